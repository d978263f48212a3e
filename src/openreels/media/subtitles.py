"""SubRip (.srt) subtitles through the `srt` library: cues are (start seconds, end seconds, text)."""

from __future__ import annotations

import datetime
import os
from dataclasses import dataclass
from pathlib import Path

from openreels.errors import OpenreelsError
from openreels.media.video import atomic_output


@dataclass(frozen=True)
class Cue:
    start: float
    end: float
    text: str


def _srt():
    try:
        import srt
    except ImportError as exc:
        raise OpenreelsError("subtitles need the srt package; run `pip install 'openreels[drama]'`") from exc
    return srt


def write_srt(path: str | os.PathLike, cues: list[Cue]) -> Path:
    """Write cues (sorted by start) to an .srt file atomically."""
    srt = _srt()
    subs = [
        srt.Subtitle(
            index=i + 1,
            start=datetime.timedelta(seconds=cue.start),
            end=datetime.timedelta(seconds=cue.end),
            content=cue.text,
        )
        for i, cue in enumerate(sorted(cues, key=lambda c: c.start))
    ]
    path = Path(path)
    with atomic_output(path) as tmp:
        tmp.write_text(srt.compose(subs), encoding="utf-8")
    return path


def read_srt(path: str | os.PathLike) -> list[Cue]:
    """Read an .srt file into cues."""
    srt = _srt()
    try:
        subs = list(srt.parse(Path(path).read_text(encoding="utf-8")))
    except (OSError, srt.SRTParseError) as exc:
        raise OpenreelsError(f"cannot read subtitles {path}: {exc}") from exc
    return [Cue(s.start.total_seconds(), s.end.total_seconds(), s.content) for s in subs]
