"""The learned captioner: a small video encoder with one classification head per caption field, trained on
stage clips (`python -m openreels.caption.train`) and shipped as fp16 safetensors in this package.

Input: 9 frames spread evenly over the clip (every 4th of 33), area-resized to 64x64. A 2-D convolution over
the first frame reads looks, colours and framing; the motion branch sees each step at 32x32 as (frame, next
frame - frame), so its first convolutions see local motion, and a 3-D convolution over the steps reads
camera motion and actions.
"""

from __future__ import annotations

import json
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from openreels.caption.schema import FIELDS, caption_from_fields
from openreels.errors import OpenreelsError

STEPS = 9  # frames the encoder sees
SIDE = 64  # their size
WEIGHTS = Path(__file__).resolve().parent.parent / "assets" / "captioner" / "captioner.safetensors"


def _block(cin: int, cout: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(cin, cout, 3, 2, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True)
    )


class Captioner(nn.Module):
    """(B, STEPS, 3, SIDE, SIDE) floats in [0, 1] -> {field: logits (B, classes)}."""

    def __init__(self, width: int = 384, fields: dict[str, tuple[str, ...]] = FIELDS) -> None:
        super().__init__()
        self.fields = dict(fields)
        # looks, colours, framing: the first frame at full size, 64 -> 4 px
        self.still = nn.Sequential(_block(3, 16), _block(16, 32), _block(32, 64), _block(64, 96))
        # motion: (frame, next - frame) at half size, 32 -> 8 px, then over the steps
        self.stem = nn.Sequential(_block(6, 16), _block(16, 32))
        self.motion = nn.Sequential(
            nn.Conv3d(32, 64, 3, 2, 1, bias=False),
            nn.BatchNorm3d(64),
            nn.ReLU(inplace=True),
            nn.Conv3d(64, 96, 3, 2, 1, bias=False),
            nn.BatchNorm3d(96),
            nn.ReLU(inplace=True),
        )
        self.fuse = nn.Sequential(nn.Linear(96 * 16 + 96 * 8, width), nn.ReLU(inplace=True), nn.Dropout(0.1))
        self.heads = nn.ModuleDict({_key(k): nn.Linear(width, len(v)) for k, v in self.fields.items()})

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        b, t = x.shape[:2]
        x = x - 0.5
        s = self.still(x[:, 0]).flatten(1)  # (B, 96 * 4 * 4)
        half = F.avg_pool2d(x.flatten(0, 1), 2).unflatten(0, (b, t))
        pairs = torch.cat([half[:, :-1], half[:, 1:] - half[:, :-1]], dim=2).flatten(0, 1)
        f = self.stem(pairs).unflatten(0, (b, t - 1))  # (B, T-1, 32, 8, 8)
        m = self.motion(f.transpose(1, 2)).flatten(1)  # (B, 96 * 2 * 2 * 2)
        h = self.fuse(torch.cat([m, s], 1))
        return {k: self.heads[_key(k)](h) for k in self.fields}


def _key(field: str) -> str:
    return field.replace(".", "__")  # ModuleDict keys cannot hold dots


def prepare(frames: np.ndarray | torch.Tensor) -> torch.Tensor:
    """(T, H, W, 3) uint8 -> (STEPS, 3, SIDE, SIDE) floats: frames spread over the clip, area-resized."""
    x = torch.as_tensor(np.asarray(frames))
    if x.ndim != 4 or x.shape[-1] != 3 or x.shape[0] < 1:
        raise OpenreelsError(f"frames must be (T, H, W, 3), got shape {tuple(x.shape)}")
    idx = np.round(np.linspace(0, x.shape[0] - 1, STEPS)).astype(int)
    x = x[idx].permute(0, 3, 1, 2).float() / 255.0
    if x.shape[-2:] != (SIDE, SIDE):
        x = F.interpolate(x, size=(SIDE, SIDE), mode="bilinear", antialias=True, align_corners=False)
    return x.clamp(0, 1)


def predict_fields(model: Captioner, batch: torch.Tensor) -> list[dict[str, str]]:
    """Most likely word of every field, per clip of a (B, STEPS, 3, SIDE, SIDE) batch."""
    with torch.inference_mode():
        logits = model(batch.float())
    picks = {k: v.argmax(1).tolist() for k, v in logits.items()}
    return [{k: model.fields[k][picks[k][i]] for k in model.fields} for i in range(batch.shape[0])]


def save(model: Captioner, path: Path, meta: dict) -> None:
    """fp16 safetensors (the fields and training facts in the header), written under a temporary name."""
    from safetensors.torch import save_file

    tensors = {
        k: v.detach().to(torch.float16).contiguous()
        for k, v in model.state_dict().items()
        if v.is_floating_point()
    }
    tensors |= {
        k: v.detach().contiguous() for k, v in model.state_dict().items() if not v.is_floating_point()
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    header = {"fields": json.dumps(model.fields), "meta": json.dumps(meta)}
    save_file(tensors, str(tmp), metadata=header)
    tmp.replace(path)


def load(path: Path | None = None) -> Captioner:
    """The captioner at `path` (default: the bundled weights), in float32 eval mode."""
    from safetensors import safe_open

    path = Path(path or WEIGHTS)
    if not path.is_file():
        raise OpenreelsError(
            f"no captioner weights at {path}; train them with `python -m openreels.caption.train`"
        )
    with safe_open(str(path), "pt") as f:
        header = f.metadata() or {}
        state = {k: f.get_tensor(k) for k in f.keys()}  # noqa: SIM118 (safe_open is not a mapping)
    fields = {k: tuple(v) for k, v in json.loads(header.get("fields", "{}")).items()} or FIELDS
    model = Captioner(fields=fields)
    model.load_state_dict({k: v.float() if v.is_floating_point() else v for k, v in state.items()})
    model.meta = json.loads(header.get("meta", "{}"))
    return model.eval()


@lru_cache(maxsize=2)
def bundled(path: str | None = None) -> Captioner:
    return load(Path(path) if path else None)


def caption_clip(frames: np.ndarray, model: Captioner | None = None) -> dict:
    """The learned caption of one clip (T, H, W, 3) uint8: SkyCaptioner-shaped dict."""
    model = model or bundled()
    fields = predict_fields(model, prepare(frames)[None])[0]
    return caption_from_fields(fields)
