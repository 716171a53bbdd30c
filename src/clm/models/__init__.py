"""Churn and lifecycle-stage models: encoding, tuning, training, evaluation, registry."""
