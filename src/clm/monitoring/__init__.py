"""Monitoring: drift, the driver mix month to month, data quality, realised performance, alerts."""
