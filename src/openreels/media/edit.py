"""Editing: placing shots on a timeline (cuts, dissolves, fades), mixing audio, burning in subtitles and
drawing contact sheets. Frames are uint8 (T, H, W, 3); audio is mono float32 in [-1, 1].

The frame arithmetic is small and specific (one timeline drives both picture and sound, so they cannot
drift), hence numpy here rather than an FFmpeg filter graph.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np

from openreels.media.subtitles import Cue

TRANSITIONS = ("cut", "dissolve", "fade")  # how a shot enters: hard cut, cross-dissolve, fade from black


def layout(lengths: Sequence[int], transitions: Sequence[str], overlap: int) -> tuple[list[int], int]:
    """Start frame of every shot and the total length; a dissolve overlaps a shot with the one before it."""
    if len(lengths) != len(transitions):
        raise ValueError("one transition per shot")
    starts: list[int] = []
    end = 0
    for i, (n, how) in enumerate(zip(lengths, transitions, strict=True)):
        if how not in TRANSITIONS:
            raise ValueError(f"unknown transition {how!r}; use one of {TRANSITIONS}")
        k = min(overlap, n // 2, lengths[i - 1] // 2) if (how == "dissolve" and i > 0) else 0
        starts.append(end - k)
        end = starts[-1] + n
    return starts, end


def assemble(
    clips: Sequence[np.ndarray],
    transitions: Sequence[str],
    overlap: int,
    fade: int = 0,
    fade_out: bool = False,
) -> np.ndarray:
    """Cut clips together: dissolves blend linearly over the overlap, "fade" enters from black over `fade`
    frames, and `fade_out` ends on black."""
    starts, total = layout([len(c) for c in clips], transitions, overlap)
    out = np.zeros((total, *clips[0].shape[1:]), dtype=np.uint8)
    for i, (clip, start, how) in enumerate(zip(clips, starts, transitions, strict=True)):
        clip = clip.astype(np.float32)
        prev_end = starts[i - 1] + len(clips[i - 1]) if i > 0 else 0
        k = max(0, prev_end - start) if how == "dissolve" else 0
        if k:
            alpha = ((np.arange(k) + 1) / (k + 1)).reshape(-1, 1, 1, 1)
            clip[:k] = alpha * clip[:k] + (1 - alpha) * out[start : start + k]
        if how == "fade" and fade:
            m = min(fade, len(clip))
            clip[:m] *= ((np.arange(m) + 1) / (m + 1)).reshape(-1, 1, 1, 1)
        out[start : start + len(clip)] = np.clip(clip + 0.5, 0, 255).astype(np.uint8)
    if fade_out and fade:
        m = min(fade, total)
        ramp = (1 - (np.arange(m) + 1) / (m + 1)).reshape(-1, 1, 1, 1)
        out[total - m :] = (out[total - m :] * ramp + 0.5).astype(np.uint8)
    return out


def mix(events: Sequence[tuple[float, np.ndarray]], total_samples: int, sample_rate: int) -> np.ndarray:
    """Sum (start seconds, samples) events into one track of exactly `total_samples`; loud overlaps are
    scaled down rather than clipped."""
    track = np.zeros(total_samples, dtype=np.float32)
    for start, samples in events:
        i = int(round(start * sample_rate))
        if i >= total_samples:
            continue
        piece = np.asarray(samples, dtype=np.float32)[: total_samples - max(i, 0)]
        if i < 0:
            piece, i = piece[-i:], 0
        track[i : i + len(piece)] += piece
    peak = float(np.abs(track).max(initial=0.0))
    return track / peak if peak > 1.0 else track


def _font(size: int):
    from PIL import ImageFont

    return ImageFont.load_default(size=size)


def _text_overlay(text: str, width: int, height: int) -> tuple[np.ndarray, np.ndarray]:
    """RGB and alpha of white text with a black outline, wrapped and placed at the bottom centre."""
    from PIL import Image, ImageDraw

    size = max(8, height // 14)
    font = _font(size)
    chars = max(8, int(width / (size * 0.55)))
    body = "\n".join(textwrap.wrap(text, chars)) or " "
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    box = draw.multiline_textbbox((0, 0), body, font=font, align="center", stroke_width=2)
    x = (width - (box[2] - box[0])) // 2
    y = height - (box[3] - box[1]) - max(2, height // 30)
    draw.multiline_text(
        (x, y),
        body,
        font=font,
        fill=(255, 255, 255, 255),
        align="center",
        stroke_width=2,
        stroke_fill=(0, 0, 0, 255),
    )
    rgba = np.asarray(img, dtype=np.float32)
    return rgba[..., :3], rgba[..., 3:] / 255.0


def burn_subtitles(frames: np.ndarray, cues: Sequence[Cue], fps: float) -> np.ndarray:
    """Draw each cue onto the frames shown while it is on (start <= t < end)."""
    out = frames.copy()
    height, width = frames.shape[1:3]
    for cue in cues:
        first, last = int(np.ceil(cue.start * fps - 1e-9)), int(np.ceil(cue.end * fps - 1e-9))
        if last <= first:
            continue
        rgb, alpha = _text_overlay(cue.text, width, height)
        seg = out[first:last].astype(np.float32)
        out[first:last] = (seg * (1 - alpha) + rgb * alpha + 0.5).astype(np.uint8)
    return out


def upscale(frames: np.ndarray, factor: int) -> np.ndarray:
    """Enlarge frames by an integer factor (nearest pixel: the tiny model's pixels stay crisp)."""
    if factor == 1:
        return frames
    return frames.repeat(factor, axis=1).repeat(factor, axis=2)


def contact_sheet(images: Sequence[np.ndarray], labels: Sequence[str], columns: int = 4) -> np.ndarray:
    """A grid of thumbnails with a wrapped label under each: the storyboard at a glance."""
    from PIL import Image, ImageDraw

    h, w = images[0].shape[:2]
    size = max(10, w // 14)
    font = _font(size)
    chars = max(10, int(w / (size * 0.55)))
    wrapped = ["\n".join(textwrap.wrap(label, chars)[:8]) for label in labels]
    label_h = (size + 3) * max(text.count("\n") + 1 for text in wrapped) + 6
    pad, rows = 6, -(-len(images) // columns)
    sheet = Image.new("RGB", (pad + columns * (w + pad), pad + rows * (h + label_h + pad)), (250, 250, 250))
    draw = ImageDraw.Draw(sheet)
    for i, (img, text) in enumerate(zip(images, wrapped, strict=True)):
        x = pad + (i % columns) * (w + pad)
        y = pad + (i // columns) * (h + label_h + pad)
        sheet.paste(Image.fromarray(np.ascontiguousarray(img)), (x, y))
        draw.multiline_text((x, y + h + 3), text, font=font, fill=(20, 20, 20), spacing=3)
    return np.asarray(sheet)
