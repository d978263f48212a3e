"""SkyReels-A1's transformer: diffusers' CogVideoX transformer plus the projection that turns SigLIP face tokens
into the text-token stream.

A1 keeps CogVideoX's module names and adds `patch_embed.pose_proj` (Linear(1152, 3*1152), SiLU,
Linear(3*1152, text_embed_dim)) in front of `patch_embed.text_proj`, and sizes the token prefix for SigLIP's 729
patch tokens instead of T5's 226. Subclassing keeps every key name so the published checkpoint loads as is; the
only code diffusers lacks is that projection.
"""

from __future__ import annotations

import torch
from diffusers import CogVideoXTransformer3DModel
from diffusers.configuration_utils import register_to_config
from torch import nn


class A1Transformer3DModel(CogVideoXTransformer3DModel):
    """CogVideoX transformer whose `encoder_hidden_states` are face-image tokens (B, face_seq_length, face_embed_dim)."""

    @register_to_config
    def __init__(
        self,
        num_attention_heads: int = 48,
        attention_head_dim: int = 64,
        in_channels: int = 48,
        out_channels: int | None = 16,
        flip_sin_to_cos: bool = True,
        freq_shift: int = 0,
        time_embed_dim: int = 512,
        ofs_embed_dim: int | None = None,
        text_embed_dim: int = 4096,
        num_layers: int = 42,
        dropout: float = 0.0,
        attention_bias: bool = True,
        sample_width: int = 90,
        sample_height: int = 60,
        sample_frames: int = 49,
        patch_size: int = 2,
        patch_size_t: int | None = None,
        temporal_compression_ratio: int = 4,
        max_text_seq_length: int = 226,
        activation_fn: str = "gelu-approximate",
        timestep_activation_fn: str = "silu",
        norm_elementwise_affine: bool = True,
        norm_eps: float = 1e-5,
        spatial_interpolation_scale: float = 1.875,
        temporal_interpolation_scale: float = 1.0,
        use_rotary_positional_embeddings: bool = True,
        use_learned_positional_embeddings: bool = True,
        patch_bias: bool = True,
        face_embed_dim: int = 1152,
        face_seq_length: int = 729,
    ):
        # A1 always sizes the token prefix for the face tokens, whatever max_text_seq_length says.
        super().__init__(
            num_attention_heads=num_attention_heads,
            attention_head_dim=attention_head_dim,
            in_channels=in_channels,
            out_channels=out_channels,
            flip_sin_to_cos=flip_sin_to_cos,
            freq_shift=freq_shift,
            time_embed_dim=time_embed_dim,
            ofs_embed_dim=ofs_embed_dim,
            text_embed_dim=text_embed_dim,
            num_layers=num_layers,
            dropout=dropout,
            attention_bias=attention_bias,
            sample_width=sample_width,
            sample_height=sample_height,
            sample_frames=sample_frames,
            patch_size=patch_size,
            patch_size_t=patch_size_t,
            temporal_compression_ratio=temporal_compression_ratio,
            max_text_seq_length=face_seq_length,
            activation_fn=activation_fn,
            timestep_activation_fn=timestep_activation_fn,
            norm_elementwise_affine=norm_elementwise_affine,
            norm_eps=norm_eps,
            spatial_interpolation_scale=spatial_interpolation_scale,
            temporal_interpolation_scale=temporal_interpolation_scale,
            use_rotary_positional_embeddings=use_rotary_positional_embeddings,
            use_learned_positional_embeddings=use_learned_positional_embeddings,
            patch_bias=patch_bias,
        )
        self.patch_embed.pose_proj = nn.Sequential(
            nn.Linear(face_embed_dim, 3 * face_embed_dim),
            nn.SiLU(),
            nn.Linear(3 * face_embed_dim, text_embed_dim),
        )

    def forward(self, hidden_states: torch.Tensor, encoder_hidden_states: torch.Tensor, *args, **kwargs):
        """As CogVideoX's forward, with face tokens (B, N, face_embed_dim) as `encoder_hidden_states`."""
        face_tokens = self.patch_embed.pose_proj(encoder_hidden_states)
        return super().forward(hidden_states, face_tokens, *args, **kwargs)
