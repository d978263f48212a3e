"""The exception types of every user-facing failure, and the exit code each one ends the CLI with.

The CLI prints `error: <message>` for an OpenreelsError and exits with its `exit_code`, with no traceback,
so each message must be one line that says what went wrong and what to do about it.

Exit codes: 0 done, 1 a failure inside the run (RunError, out of memory, a full disk), 2 bad usage or input
(OpenreelsError), 130 interrupted.
"""


class OpenreelsError(Exception):
    """A failure the user can fix by changing the command or its inputs; shown as-is on one line."""

    exit_code = 2


class RunError(OpenreelsError):
    """A valid request that failed while running (corrupt weights, a full disk, out of memory)."""

    exit_code = 1
