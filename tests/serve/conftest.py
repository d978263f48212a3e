"""A server over a temporary data folder, driven through FastAPI's test client; jobs run in this process
(`run_jobs`) so each test decides when work happens."""

from __future__ import annotations

import io
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

SCREENPLAY = """Title: Wave

INT. STUDIO - DAY

NOOR, a woman with short black hair in a yellow shirt, waves.

NOOR
(happy)
Hello!

SAM, a man with long brown hair in a green shirt, walks in.

SAM
Hi Noor.
"""
STAGE = {"renderer": "stage", "size": [64, 64], "fps": 8, "window": 17, "scale": 1, "crossfade": 0}
TINY = {
    "prompt": "Medium shot, eye level, static shot. A woman is waving.",
    "size": [32, 32],
    "frames": 5,
    "steps": 1,
}


class Server:
    def __init__(self, client, data: Path) -> None:
        self.client, self.data = client, data
        self.store = client.app.state.store

    def token(self, name: str) -> dict:
        return {"Authorization": f"Bearer {self.store.create_token(name)}"}

    def run_jobs(self) -> int:
        """Run every queued job here, as a worker would; returns how many ran."""
        from openreels.serve.workers import execute

        n = 0
        while (job := self.store.claim("test")) is not None:
            execute(self.store, self.data, job)
            n += 1
        return n


@pytest.fixture
def server(tmp_path):
    from fastapi.testclient import TestClient

    from openreels.serve import Limits, create_app

    data = tmp_path / "data"
    limits = Limits(max_body=64 << 10, max_upload=1 << 20, max_pixels=256 * 256, max_frames=40)
    app = create_app(data, workers=0, limits=limits)
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Server(client, data)


def png(h: int = 32, w: int = 32, colour=(200, 30, 30)) -> bytes:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.full((h, w, 3), colour, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()


def mp4(tmp_path: Path, frames: int = 9, size: int = 32) -> bytes:
    from openreels.media.video import write_video

    rng = np.random.default_rng(0)
    path = write_video(
        tmp_path / "clip.mp4", rng.integers(0, 255, (frames, size, size, 3), dtype=np.uint8), 8
    )
    return path.read_bytes()


@pytest.fixture
def kit() -> SimpleNamespace:
    """The shared samples (test modules cannot import conftest under --import-mode=importlib)."""
    return SimpleNamespace(SCREENPLAY=SCREENPLAY, STAGE=STAGE, TINY=TINY, png=png, mp4=mp4)
