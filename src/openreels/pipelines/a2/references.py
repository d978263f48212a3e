"""Reference images for SkyReels-A2: loading them safely and fitting them the way the original does.

A person or an object is padded on white to the video's aspect and resized (A2 was trained on elements cut
out on white); a background plate is centre-cropped to fill the frame. Every reference is also padded on
white to a 512x512 square for the image encoder, whose own processor then resizes and crops it.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from openreels.errors import OpenreelsError
from openreels.media import read_image

KINDS = ("character", "object", "background")
MAX_REFERENCES = 3
# Far above any useful reference (the video is 832x480) and far below what would exhaust memory when decoded.
MAX_REFERENCE_PIXELS = 40_000_000
CLIP_CANVAS = 512


@dataclass(frozen=True)
class Reference:
    """One element to compose: an RGB uint8 image (H, W, 3), what it shows, and a name for messages."""

    image: np.ndarray
    kind: str = "character"
    name: str = "reference"


@dataclass
class PreparedReferences:
    """References in the order the model sees them, fitted for the VAE (video size) and the image encoder."""

    references: list[Reference]
    vae_images: list[np.ndarray]  # (height, width, 3) uint8 each
    clip_images: list[np.ndarray]  # (512, 512, 3) uint8 each
    notes: list[str] = field(default_factory=list)


def _check_kind(kind: str) -> None:
    if kind not in KINDS:
        raise OpenreelsError(f"unknown reference kind {kind!r}; use one of {', '.join(KINDS)}")


def load_reference(path: str | os.PathLike, kind: str = "character") -> Reference:
    """Read a reference image (transparency composited on white), refusing empty, blank or huge files."""
    from PIL import Image, UnidentifiedImageError

    _check_kind(kind)
    path = Path(path)
    if path.is_file() and path.stat().st_size == 0:
        raise OpenreelsError(f"reference {path} is an empty file (0 bytes); pass a PNG or JPEG image")
    fully_transparent = False
    try:
        # Image.open reads only the header, so the size is known before anything is decoded.
        with warnings.catch_warnings(), Image.open(path) as img:
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # refused below, with our message
            width, height = img.size
            if width * height > MAX_REFERENCE_PIXELS:
                raise OpenreelsError(_too_big(path, width, height))
            if img.mode in ("RGBA", "LA") or (img.mode == "P" and "transparency" in img.info):
                fully_transparent = img.convert("RGBA").getchannel("A").getextrema()[1] == 0
    except Image.DecompressionBombError as exc:
        raise OpenreelsError(_too_big(path, None, None)) from exc
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError):
        pass  # read_image below turns these into its one-line message
    if fully_transparent:
        raise OpenreelsError(f"reference {path} is fully transparent: there is nothing in it to compose")
    image = read_image(path)
    return Reference(image=image, kind=kind, name=path.name)


def _too_big(path: Path, width: int | None, height: int | None) -> str:
    size = f"{height}x{width} HxW, " if width else ""
    return (
        f"reference {path} is too large ({size}over {MAX_REFERENCE_PIXELS // 1_000_000} megapixels); "
        "downscale it (the video is at most a few megapixels)"
    )


def as_reference(item: Reference | str | os.PathLike | np.ndarray, kind: str = "character") -> Reference:
    """Accept a Reference, a path, or an RGB uint8 array (H, W, 3)."""
    if isinstance(item, Reference):
        _check_kind(item.kind)
        return item
    if isinstance(item, np.ndarray):
        _check_kind(kind)
        if item.ndim != 3 or item.shape[2] != 3 or item.dtype != np.uint8:
            raise OpenreelsError(
                f"a reference array must be RGB uint8 shaped (H, W, 3), got {item.dtype} {item.shape}"
            )
        if item.shape[0] == 0 or item.shape[1] == 0:
            raise OpenreelsError("a reference image is empty (0 pixels)")
        if item.shape[0] * item.shape[1] > MAX_REFERENCE_PIXELS:
            raise OpenreelsError(_too_big(Path("array"), item.shape[1], item.shape[0]))
        return Reference(image=item, kind=kind, name="array")
    return load_reference(item, kind)


def fit_on_white(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Pad to the target aspect with white (centred), then resize: how A2 places a person or an object."""
    from PIL import Image, ImageOps

    fitted = ImageOps.pad(
        Image.fromarray(image), (width, height), method=Image.Resampling.BICUBIC, color=(255, 255, 255)
    )
    return np.asarray(fitted)


def fit_cover(image: np.ndarray, height: int, width: int) -> np.ndarray:
    """Centre-crop to the target aspect, then resize: how A2 places a background plate."""
    from PIL import Image, ImageOps

    return np.asarray(ImageOps.fit(Image.fromarray(image), (width, height), method=Image.Resampling.BICUBIC))


def check_reference_count(count: int) -> None:
    """Refuse 0 or more than 3 references with one line."""
    if count == 0:
        raise OpenreelsError("no reference image given; pass 1 to 3 with --ref")
    if count > MAX_REFERENCES:
        raise OpenreelsError(
            f"{count} references given; SkyReels-A2 takes at most {MAX_REFERENCES} "
            "(a person, an object, a background): drop some --ref"
        )


def prepare_references(
    references: Sequence[Reference | str | os.PathLike | np.ndarray],
    height: int,
    width: int,
    kinds: Sequence[str] | None = None,
) -> PreparedReferences:
    """Load, order and fit 1-3 references for a height x width video.

    The original was trained with people first, then objects, then the background; a background given
    earlier is moved last (stable otherwise) and a note says so. `kinds` applies to paths and arrays.
    """
    check_reference_count(len(references))
    if kinds is not None and len(kinds) != len(references):
        raise ValueError("kinds must have one entry per reference")
    refs = [as_reference(item, kinds[i] if kinds else "character") for i, item in enumerate(references)]
    if sum(ref.kind == "background" for ref in refs) > 1:
        raise OpenreelsError("more than one background reference; give at most one --background")

    notes: list[str] = []
    ordered = sorted(refs, key=lambda ref: ref.kind == "background")
    if [id(ref) for ref in ordered] != [id(ref) for ref in refs]:
        notes.append("the background reference was moved last, where SkyReels-A2 expects it")
    vae_images, clip_images = [], []
    for index, ref in enumerate(ordered, start=1):
        h, w = ref.image.shape[:2]
        if ref.kind == "background":
            vae_images.append(fit_cover(ref.image, height, width))
            how = "cropped to fill"
        else:
            vae_images.append(fit_on_white(ref.image, height, width))
            how = "padded on white"
        if (h, w) != (height, width):
            notes.append(
                f"reference {index} ({ref.name}, {h}x{w}) {how} and resized to {height}x{width} (HxW)"
            )
        clip_images.append(fit_on_white(ref.image, CLIP_CANVAS, CLIP_CANVAS))
    return PreparedReferences(ordered, vae_images, clip_images, notes)


def stage_references(scene, size: tuple[int, int], background: bool = True) -> list[Reference]:
    """References cut from a stage scene (openreels.world): people first, then objects, then the plate.

    At most two people/objects are taken (in that order) so that, with the background, A2's three slots
    are filled the way it was trained: a person, an object, a background. `size` is (height, width).
    """
    from openreels.world import render_reference

    slots = MAX_REFERENCES - int(background)
    picks = [("character", i) for i in range(len(scene.characters))]
    picks += [("object", i) for i in range(len(scene.objects))]
    # One person and one object when both exist, rather than two people.
    if scene.characters and scene.objects and slots == 2:
        picks = [("character", 0), ("object", 0)]
    refs = [
        Reference(render_reference(scene, kind, index, size), kind, f"stage {kind} {index + 1}")
        for kind, index in picks[:slots]
    ]
    if background:
        refs.append(
            Reference(render_reference(scene, "background", 0, size), "background", "stage background")
        )
    return refs
