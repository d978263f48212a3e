"""SkyReels-A2 (elements-to-video) pieces diffusers lacks: reference preprocessing and the checkpoint layout.

The A2 transformer itself is diffusers' `WanTransformer3DModel` with image cross-attention (the published
`A2Model` has the same config keys and weight names), so no model code lives here.
"""

from openreels.pipelines.a2.layout import A2Sizes, write_random_a2_layout
from openreels.pipelines.a2.references import (
    MAX_REFERENCES,
    PreparedReferences,
    Reference,
    check_reference_count,
    load_reference,
    prepare_references,
    stage_references,
)

__all__ = [
    "MAX_REFERENCES",
    "A2Sizes",
    "PreparedReferences",
    "Reference",
    "check_reference_count",
    "load_reference",
    "prepare_references",
    "stage_references",
    "write_random_a2_layout",
]
