"""Small pieces every command shares: size parsing, early output checks, quiet library loading."""

from __future__ import annotations

import os
import re
from pathlib import Path

from openreels.errors import OpenreelsError


def parse_size(text: str) -> tuple[int, int]:
    """'HEIGHTxWIDTH' (or one number for a square) -> (height, width)."""
    match = re.fullmatch(r"\s*(\d+)\s*(?:[xX*]\s*(\d+))?\s*", text or "")
    if not match:
        raise OpenreelsError(f"--size must look like HEIGHTxWIDTH (e.g. 544x960), got {text!r}")
    return int(match[1]), int(match[2] or match[1])


def check_writable(path: Path) -> None:
    """Fail before any compute when the output cannot be written."""
    parent = path.parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise OpenreelsError(f"cannot write to {parent}: {exc.strerror}; choose another --output") from exc
    if not os.access(parent, os.W_OK) or (path.exists() and (path.is_dir() or not os.access(path, os.W_OK))):
        raise OpenreelsError(f"cannot write {path}: permission denied or not a file; choose another --output")


def quiet_libraries() -> None:
    """diffusers/transformers print load bars and type warnings; openreels shows its own progress."""
    import diffusers
    import transformers

    diffusers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()
