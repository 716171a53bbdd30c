"""Explanations in the operator's own churn-reason language: taxonomy, reasons, report."""
