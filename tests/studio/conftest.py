"""Small fakes for the studio tests: a shot renderer, a reference renderer and a TTS that cost nothing."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from openreels.media.tts import Voice
from openreels.studio.render import frames_for

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "the_red_umbrella.fountain"


class FakeTTS:
    """A tone whose length follows the text (70 ms a character / rate) and whose pitch follows the voice."""

    name = "fake"
    sample_rate = 16000

    def synthesize(self, text: str, voice: Voice) -> np.ndarray:
        n = int(0.07 * len(text) / voice.rate * self.sample_rate)
        t = np.arange(n) / self.sample_rate
        return (0.5 * np.sin(2 * np.pi * 180 * voice.pitch * t)).astype(np.float32)


class FakeShots:
    """Solid frames coloured from the shot's prompt; records which shots it rendered."""

    cache_id = "fake-shots-v1"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def __call__(self, shot, cast, settings, references) -> np.ndarray:
        self.calls.append(shot.id)
        n = frames_for(shot.duration, settings.fps)
        h, w = settings.size
        rgb = np.frombuffer(hashlib.sha256(shot.prompt.encode()).digest()[:3], dtype=np.uint8)
        frames = np.broadcast_to(rgb, (n, h, w, 3)).copy()
        frames[:, : h // 8, : (w * (len(self.calls) % 8 + 1)) // 8] = 255  # a bar so frames differ
        return frames


def fake_reference(character, settings) -> np.ndarray:
    h, w = settings.size
    rgb = np.frombuffer(hashlib.sha256(character.name.encode()).digest()[:3], dtype=np.uint8)
    return np.broadcast_to(rgb, (h, w, 3)).copy()


fake_reference.cache_id = "fake-reference-v1"


@pytest.fixture
def example_path() -> Path:
    return EXAMPLE


@pytest.fixture
def fake_tts() -> FakeTTS:
    return FakeTTS()


@pytest.fixture
def fake_shots() -> FakeShots:
    return FakeShots()


@pytest.fixture
def small_settings():
    from openreels.studio import Settings

    return Settings(size=(32, 32), fps=8, window=17, scale=1)


@pytest.fixture
def render_fake(fake_shots):
    """project -> RenderReport with the fake shot and reference renderers."""

    def run(project):
        return project.render(shot_renderer=fake_shots, reference_renderer=fake_reference)

    return run
