"""The one error type for input a user must fix.

The ``clm`` command line prints an ``InputError`` as one line naming the file, column and rule,
and exits 2; every other failure exits 1.
"""

from __future__ import annotations


class InputError(ValueError):
    """Input that cannot be used as given; the message says which file, column and rule."""
