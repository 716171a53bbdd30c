"""Gated promotion of registry versions to ``champion``, and rollback.

Gates are pure functions of re-scored metrics (``gates``); evaluators re-score a version on
the out-of-time test month (``evaluators``); ``promote`` and ``rollback`` decide where
``champion`` goes and ``champion.move_champion`` moves it under a registry lease (``lease``),
appending every move to the champion history (``history``).
"""
