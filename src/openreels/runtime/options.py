"""RuntimeOptions: the SkyReels-Infer switches as one typed value shared by the library, CLI and bench."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import BaseModel, ConfigDict, field_validator

from openreels.errors import OpenreelsError

Offload = Literal["none", "model", "group", "sequential"]
Quant = Literal["none", "fp8"]
Attention = Literal["auto", "sdpa", "cudnn", "flash", "sage"]
Cache = Literal["none", "teacache", "magcache", "fbc"]
Profile = Literal["none", "auto", "h100", "24gb", "16gb", "cpu"]

# Which options change numerics: lossless ones must reproduce the baseline (up to kernel rounding on GPU).
LOSSY = {"quant", "cache", "attention=sage"}


class ParallelSpec(BaseModel):
    """How torchrun ranks are split: ulysses x ring context parallel inside each of `cfg` guidance groups."""

    model_config = ConfigDict(frozen=True)
    ulysses: int = 1
    ring: int = 1
    cfg: int = 1

    @property
    def world_size(self) -> int:
        return self.ulysses * self.ring * self.cfg

    @classmethod
    def parse(cls, text: str) -> ParallelSpec:
        """Parse `ulysses=N,ring=M,cfg=2` (any subset, any order)."""
        values: dict[str, int] = {}
        for part in filter(None, (p.strip() for p in text.split(","))):
            m = re.fullmatch(r"(ulysses|ring|cfg)=(\d+)", part)
            if not m or int(m.group(2)) < 1:
                raise OpenreelsError(
                    f"bad --parallel part {part!r}; write e.g. --parallel ulysses=4,ring=1,cfg=2"
                )
            values[m.group(1)] = int(m.group(2))
        if values.get("cfg", 1) > 2:
            raise OpenreelsError("--parallel cfg can be 1 or 2 (one rank group per guidance branch)")
        return cls(**values)

    def __str__(self) -> str:
        return f"ulysses={self.ulysses},ring={self.ring},cfg={self.cfg}"


class RuntimeOptions(BaseModel):
    """Composable speed/memory options applied to a loaded pipeline by `apply_runtime`.

    Defaults reproduce plain diffusers (bf16, torch SDPA, no offload, no cache)."""

    model_config = ConfigDict(extra="forbid")
    offload: Offload = "none"
    quant: Quant = "none"
    attention: Attention = "sdpa"
    compile: bool = False
    cache: Cache = "none"
    cache_threshold: float | None = None
    vae_tiling: bool = False
    cfg_batching: bool = False
    profile: Profile = "none"
    parallel: ParallelSpec | None = None

    @field_validator("parallel", mode="before")
    @classmethod
    def _parse_parallel(cls, value: object) -> object:
        if isinstance(value, str):
            return ParallelSpec.parse(value) if value.strip() else None
        return value

    @field_validator("cache_threshold")
    @classmethod
    def _positive(cls, value: float | None) -> float | None:
        if value is not None and value <= 0:
            raise OpenreelsError("--cache-threshold must be > 0 (e.g. 0.1 for teacache)")
        return value

    def describe(self) -> str:
        """One line naming every non-default choice, for logs, sidecars and the bench table."""
        default = RuntimeOptions()
        parts = []
        for name in type(self).model_fields:
            if name == "profile":
                continue
            value = getattr(self, name)
            if value != getattr(default, name):
                parts.append(name if value is True else f"{name}={value}")
        return ", ".join(parts) or "plain diffusers defaults"
