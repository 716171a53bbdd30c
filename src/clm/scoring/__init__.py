"""Batch scoring: one MLflow pyfunc artifact that turns raw monthly usage into scored customers."""
