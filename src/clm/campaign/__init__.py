"""Retention campaigns: planning, measuring and, on synthetic data, their true outcome."""
