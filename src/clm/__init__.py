"""clm: churn and lifecycle-stage models for mobile operators."""
