"""Progress every long command shows on stderr: a live bar on a terminal; in a log file or a pipe, plain
lines (one per stage and at most one every few seconds, with the elapsed time and an ETA), so a log shows
that work goes on; nothing at all with --quiet or --json."""

from __future__ import annotations

import os
import sys
import time

# Seconds between plain progress lines within one stage (OPENREELS_PROGRESS_SECONDS overrides it).
PLAIN_INTERVAL_S = 10.0


def _clock(seconds: float) -> str:
    seconds = int(max(0, seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Reporter:
    """`update(label, done, total)` from any loop; use as a context manager around the work."""

    def __init__(self, quiet: bool = False, interval: float | None = None) -> None:
        self.quiet = quiet
        self.live = not quiet and sys.stderr.isatty()
        self.interval = interval or float(os.environ.get("OPENREELS_PROGRESS_SECONDS") or PLAIN_INTERVAL_S)
        self._bar = None
        self._task = None
        self._label: str | None = None
        self._stage_start = self._last_line = 0.0

    def __enter__(self) -> Reporter:
        if self.live:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._bar = Progress(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TextColumn("eta"),
                TimeRemainingColumn(),
                console=Console(stderr=True),
                transient=True,
            )
            self._bar.__enter__()
            self._task = self._bar.add_task("starting", total=None)
        return self

    def __exit__(self, *exc) -> None:
        if self._bar is not None:
            self._bar.__exit__(*exc)
            self._bar = None

    def update(self, label: str, done: int | None = None, total: int | None = None) -> None:
        if self.quiet:
            return
        now = time.monotonic()
        new_stage = label != self._label
        if new_stage:
            self._label, self._stage_start = label, now
        if self.live:
            if self._bar is None:  # outside the `with` block: nothing to draw on
                return
            if new_stage:  # a new stage restarts the bar, so its rate and ETA are its own
                self._bar.reset(self._task, total=total, completed=done or 0, description=label)
            else:
                self._bar.update(self._task, completed=done, total=total, description=label)
            return
        finished = total is not None and done is not None and done >= total
        if not (new_stage or finished or now - self._last_line >= self.interval):
            return
        self._last_line = now
        elapsed = now - self._stage_start
        line = label
        if total and done:
            line += f" {done}/{total} ({100 * done // total}%), {_clock(elapsed)} elapsed"
            if 0 < done < total:
                line += f", eta {_clock(elapsed / done * (total - done))}"
        elif done:
            line += f" {done}, {_clock(elapsed)} elapsed"
        print(line, file=sys.stderr, flush=True)

    def stage(self, label: str) -> None:
        """A step without a count (loading a model, writing the file)."""
        self.update(label)
