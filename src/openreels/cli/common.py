"""Small pieces every command shares: size parsing, early output checks, quiet third-party libraries."""

from __future__ import annotations

import contextlib
import gc
import logging
import os
import re
import tempfile
import warnings
from pathlib import Path

from openreels.errors import OpenreelsError

# Loggers of the libraries openreels runs, silenced below ERROR unless --verbose.
THIRD_PARTY_LOGGERS = (
    "diffusers",
    "transformers",
    "huggingface_hub",
    "accelerate",
    "torch",
    "absl",
    "mediapipe",
    "tensorflow",
    "piper",
    "onnxruntime",
    "PIL",
    "matplotlib",
)


def parse_size(text: str, name: str = "--size") -> tuple[int, int]:
    """'HEIGHTxWIDTH' (or one number for a square) -> (height, width), both at least 1."""
    match = re.fullmatch(r"\s*([+-]?\d+)\s*(?:[xX*]\s*([+-]?\d+))?\s*", text or "")
    if not match:
        raise OpenreelsError(f"{name} must look like HEIGHTxWIDTH (e.g. 544x960), got {text!r}")
    height, width = int(match[1]), int(match[2] or match[1])
    if height < 1 or width < 1:
        raise OpenreelsError(f"{name} must be positive (HEIGHTxWIDTH, e.g. 544x960), got {height}x{width}")
    return height, width


def _creatable(folder: Path, option: str) -> None:
    """Fail unless `folder` exists as a writable folder or could be created; creates nothing, so a run
    refused later leaves no empty folder behind."""
    folder = folder.absolute()
    existing = next(p for p in (folder, *folder.parents) if p.exists())
    if not existing.is_dir():
        raise OpenreelsError(f"{existing} is a file, not a folder; choose another {option}")
    try:  # a real probe: permission bits do not stop root, yet a read-only file system does
        os.rmdir(tempfile.mkdtemp(prefix=".openreels-check-", dir=existing))
    except OSError as exc:
        raise OpenreelsError(
            f"cannot write into {existing}: {(exc.strerror or str(exc)).lower()}; choose another {option}"
        ) from exc


def check_writable(path: Path, option: str = "--output") -> None:
    """Fail before any compute when the output cannot be written."""
    _creatable(path.parent, option)
    if path.is_dir() or (path.exists() and not os.access(path, os.W_OK)):
        raise OpenreelsError(f"cannot write {path}: permission denied or not a file; choose another {option}")


def check_writable_folder(folder: Path, option: str) -> None:
    """Fail before any compute when `folder` cannot be created or written into."""
    _creatable(folder, option)


def check_not_input(outputs: list[Path], inputs: list[Path | str | None]) -> None:
    """Refuse an output (or its sidecar) that is one of the inputs: writing it would destroy the input."""
    given = [Path(p) for p in inputs if p]
    for out in outputs:
        for target in (out, out.with_suffix(".json")):
            for source in given:
                same = target.resolve() == source.resolve()
                if not same and target.exists() and source.exists():
                    same = os.path.samefile(target, source)
                if same:
                    what = "its sidecar " if target != out else ""
                    raise OpenreelsError(
                        f"--output {out} would overwrite {what}the input {source}; choose another --output"
                    )


def quiet_third_party(verbose: bool = False) -> None:
    """Third-party logging, warnings and native (C++) log lines off unless --verbose: a successful run
    prints openreels' own lines only. Called once, before any heavy library is imported."""
    if verbose:  # the libraries' own defaults
        return
    for name in THIRD_PARTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    # Read by TensorFlow Lite / MediaPipe / glog when their native code starts: errors only.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ.setdefault("GLOG_minloglevel", "2")
    os.environ.setdefault("TRANSFORMERS_VERBOSITY", "error")
    os.environ.setdefault("DIFFUSERS_VERBOSITY", "error")
    os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
    warnings.filterwarnings("ignore", category=UserWarning, module=r"(torch|diffusers|transformers|google)\b")
    warnings.filterwarnings("ignore", category=FutureWarning)
    warnings.filterwarnings("ignore", category=DeprecationWarning)


@contextlib.contextmanager
def lasting_imports():
    """Import torch, diffusers and transformers inside this: their million or so objects live as long as
    the process, yet the cyclic collector would walk them again and again while they load and once more at
    exit (together about 2 s of CPU on the 2-core CPU, a fifth of a bundled model's run). Nothing is
    collected while importing (imports make next to no garbage); afterwards the objects are frozen, out of
    every later collection's way."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.freeze()
        if enabled:
            gc.enable()


def quiet_libraries() -> None:
    """diffusers/transformers print load bars and type warnings; openreels shows its own progress."""
    import diffusers
    import transformers

    if os.environ.get("OPENREELS_VERBOSE", "") in ("", "0"):
        diffusers.utils.logging.set_verbosity_error()
        transformers.utils.logging.set_verbosity_error()
    diffusers.utils.logging.disable_progress_bar()
    transformers.utils.logging.disable_progress_bar()
