"""Training: flow matching with diffusion forcing, VAE training, and the recipe that makes openreels-tiny.

Public API:
- `ForcingConfig`, `sample_sigmas`, `add_noise`, `velocity_target`, `flow_loss` (openreels.train.flow)
- `DiffusionForcingObjective`, `ChannelCondition`, `TokenCondition`, `skyreels_forward` (openreels.train.objective)
- `Trainer`, `LoopConfig` (openreels.train.loop): DDP, bf16 autocast, accumulation, EMA, atomic checkpoints
- `PromptEncoder` (openreels.train.text): MiniLM prompt states padded as the pipelines pad them
- `get_recipe`, `run_recipe` (openreels.train.recipes) and `export_pipeline_folder` (openreels.train.export)
"""

from openreels.train.flow import ForcingConfig, add_noise, flow_loss, sample_sigmas, velocity_target
from openreels.train.loop import LoopConfig, Trainer
from openreels.train.objective import (
    ChannelCondition,
    DiffusionForcingObjective,
    TokenCondition,
    skyreels_forward,
)

__all__ = [
    "ChannelCondition",
    "DiffusionForcingObjective",
    "ForcingConfig",
    "LoopConfig",
    "TokenCondition",
    "Trainer",
    "add_noise",
    "flow_loss",
    "sample_sigmas",
    "skyreels_forward",
    "velocity_target",
]
