"""One exception type for every user-facing failure.

The CLI prints `error: <message>` for an OpenreelsError and exits non-zero, with no traceback, so each
message must be one line that says what went wrong and what to do about it.
"""


class OpenreelsError(Exception):
    """A failure the user can fix; the message is shown as-is on one line."""

    exit_code = 2
