"""Tiny checkpoints of every family, built once per session and shared by the core tests."""

from __future__ import annotations

import numpy as np
import pytest

from openreels.models.tiny import KINDS, build_tiny_checkpoint

# 32x32, 9 frames, 2 steps: the smallest settings every architecture accepts.
TINY_DEFAULTS = {
    "size": [32, 32],
    "frames": 9,
    "fps": 8,
    "steps": 2,
    "guidance": 3.0,
    "shift": 3.0,
    "max_sequence_length": 16,
    "overlap_history": 5,
}


@pytest.fixture(scope="session")
def tiny_dirs(tmp_path_factory):
    """kind -> folder of a saved random checkpoint (see openreels.models.tiny.KINDS)."""
    root = tmp_path_factory.mktemp("tiny")
    return {kind: build_tiny_checkpoint(kind, root / kind, seed=0, defaults=TINY_DEFAULTS) for kind in KINDS}


@pytest.fixture(scope="session")
def face():
    """A real photo (skimage's astronaut), cropped to the tiny models' 32x32."""
    from skimage import data

    from openreels.pipelines.tasks import fit_image

    return np.asarray(fit_image(data.astronaut(), (32, 32)))


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path_factory, monkeypatch):
    """The default model's random stand-in and the HF cache live in per-session temporary folders."""
    monkeypatch.setenv("OPENREELS_CACHE", str(tmp_path_factory.getbasetemp() / "openreels-cache"))
    monkeypatch.setenv("HF_HOME", str(tmp_path_factory.getbasetemp() / "hf-home"))
    monkeypatch.delenv("HF_HUB_CACHE", raising=False)
