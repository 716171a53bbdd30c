"""Gated promotion of registry versions to ``champion``, and rollback.

Gates are pure functions of re-scored metrics (``gates``); evaluators re-score a version on
the out-of-time test month (``evaluators``); ``promote`` and ``rollback`` move the alias under a
registry lease (``lease``) and record every move as version tags.
"""
