"""The one error type the batch command reports to its user as a single line."""

from __future__ import annotations


class BatchError(Exception):
    """A mistake in the command or an outside failure (database, server) the user can fix.

    The CLI prints its message on one line and exits with status 2; the rows committed
    before it stay, so the same command run again resumes.
    """
