"""Training: flow matching with diffusion forcing, VAE training, and the recipes of the bundled models.

Public API:
- `ForcingConfig`, `sample_sigmas`, `add_noise`, `velocity_target`, `flow_loss` (openreels.train.flow)
- `DiffusionForcingObjective`, `ChannelCondition`, `TokenCondition`, `skyreels_forward` (openreels.train.objective)
- `Trainer`, `LoopConfig` (openreels.train.loop): DDP, bf16 autocast, accumulation, EMA, atomic checkpoints
- `PromptEncoder` (openreels.train.text): MiniLM prompt states padded as the pipelines pad them
- `get_recipe` (openreels.train.recipes: every recipe by name) and `run_recipe` (openreels.train.runner: the one
  runner of every recipe: sessions, VAE stage, encoding cache, training, export); `export_pipeline_folder`
  (openreels.train.export) and `ship_if_better` (openreels.train.report)
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
