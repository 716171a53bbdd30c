"""Retention campaigns judged by value: plan under budget with a control group, measure the
realised uplift, learn whom to treat from the pilot (domain.md §3, §6, §7)."""
