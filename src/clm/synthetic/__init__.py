"""The simulated operator: population, lifecycle, usage, measure effects, the oracle and the
calibration against the seed figures. Its truth never enters the raw tables."""
