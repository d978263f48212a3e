"""Quality evaluation: probes that score clips against their prompts, field by field, and temporal
consistency. Speed benchmarks live in `openreels.eval.bench`.

    from openreels.eval import score_clip, consistency, evaluate
    score_clip(frames, "Close-up, eye level, static shot. A woman ... laughing ...", fps=8)
"""

from openreels.eval.consistency import consistency
from openreels.eval.probes import (
    PROBE_FIELDS,
    cast_consistency,
    estimate_motion,
    evaluate,
    probe_table,
    score_clip,
)

__all__ = [
    "PROBE_FIELDS",
    "cast_consistency",
    "consistency",
    "estimate_motion",
    "evaluate",
    "probe_table",
    "score_clip",
]
