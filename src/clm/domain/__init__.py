"""The operator's retention playbook as data: churn-reason taxonomy, measures, lifecycle
stages and their rule table, value tiers and budgets. Every other package builds on it."""
