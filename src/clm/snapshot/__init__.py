"""Bring your own data: one-row-per-customer churn files mapped onto clm (``clm snapshot``)."""
