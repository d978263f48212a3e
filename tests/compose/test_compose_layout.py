"""Loading the Skywork/SkyReels-A2 folder layout through diffusers/transformers classes."""

import json
import shutil

import pytest
import torch

from openreels.errors import OpenreelsError
from openreels.pipelines.compose import TEXT_TOKENS, load_compose_pipeline


def test_layout_loads_as_diffusers_components(a2_dir, a2_pipe):
    from diffusers import AutoencoderKLWan, WanTransformer3DModel
    from transformers import CLIPVisionModel, UMT5EncoderModel

    # The folder is written the way the original saves it: the transformer config names A2Model.
    assert json.loads((a2_dir / "transformer" / "config.json").read_text())["_class_name"] == "A2Model"
    assert isinstance(a2_pipe.transformer, WanTransformer3DModel)
    assert isinstance(a2_pipe.vae, AutoencoderKLWan)
    assert isinstance(a2_pipe.image_encoder, CLIPVisionModel)
    assert isinstance(a2_pipe.text_encoder, UMT5EncoderModel)
    z = a2_pipe.vae.config.z_dim
    assert a2_pipe.transformer.config.in_channels == 2 * z + a2_pipe.vae_scale_temporal
    assert a2_pipe.vae_scale_temporal == 4 and a2_pipe.vae_scale_spatial == 8 and a2_pipe.size_multiple == 16


def test_prompt_states_are_512_tokens_zero_after_the_end(a2_pipe):
    states = a2_pipe.text_states(["a woman waving", "a man"])
    assert states.shape == (2, TEXT_TOKENS, a2_pipe.transformer.config.text_dim)
    cond, uncond = a2_pipe.encode_prompt("a woman waving", "a man")
    torch.testing.assert_close(torch.cat([cond, uncond]), states)
    assert a2_pipe.encode_prompt("a woman waving", do_classifier_free_guidance=False)[1] is None
    length = a2_pipe.tokenizer(["a man"], return_tensors="pt").attention_mask.sum().item()
    assert torch.count_nonzero(states[1, length:]) == 0
    assert torch.count_nonzero(states[1, :length]) > 0


def test_missing_component_is_one_line(a2_dir, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(a2_dir, broken)
    shutil.rmtree(broken / "image_encoder")
    with pytest.raises(OpenreelsError, match=r"not a SkyReels-A2 folder: missing image_encoder/$"):
        load_compose_pipeline(broken)


def test_model_ids_resolve_through_the_registry(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(OpenreelsError, match="skyreels-a2 is not downloaded: run `huggingface-cli download"):
        load_compose_pipeline("Skywork/SkyReels-A2")
    with pytest.raises(OpenreelsError, match="cannot compose; use openreels-a2-tiny, skyreels-a2"):
        load_compose_pipeline("skyreels-v2-t2v-14b-540p")
    with pytest.raises(OpenreelsError, match="model folder not found: .*nowhere; check the path"):
        load_compose_pipeline(str(tmp_path / "nowhere"))


def test_text_to_video_transformer_is_refused(a2_dir, tmp_path):
    from diffusers import WanTransformer3DModel

    broken = tmp_path / "t2v"
    shutil.copytree(a2_dir, broken)
    config = dict(WanTransformer3DModel.load_config(a2_dir / "transformer"))
    for key in ("image_dim", "added_kv_proj_dim"):
        config[key] = None
    shutil.rmtree(broken / "transformer")
    WanTransformer3DModel.from_config(config).save_pretrained(broken / "transformer")
    with pytest.raises(OpenreelsError, match="no image cross-attention"):
        load_compose_pipeline(broken)


def test_corrupt_weights_are_one_line(a2_dir, tmp_path):
    broken = tmp_path / "corrupt"
    shutil.copytree(a2_dir, broken)
    (broken / "vae" / "diffusion_pytorch_model.safetensors").write_bytes(b"not a safetensors file")
    with pytest.raises(OpenreelsError, match="cannot load the A2 checkpoint"):
        load_compose_pipeline(broken)


def test_layout_naming_the_bundled_minilm_text_encoder(tmp_path, ref_images):
    """No UMT5 weights exist offline: a folder may name MiniLM in openreels.json, like the tiny models do."""
    from openreels.pipelines.a2 import write_random_a2_layout

    root = write_random_a2_layout(tmp_path / "a2-minilm", text_encoder="minilm")
    assert not (root / "text_encoder").exists() and not (root / "tokenizer").exists()
    pipe = load_compose_pipeline(root)
    assert type(pipe.text_encoder).__name__ == "BertModel" and pipe.transformer.config.text_dim == 384
    out = pipe(
        "a woman waving",
        ref_images[:1],
        height=16,
        width=32,
        num_frames=1,
        num_inference_steps=1,
        guidance_scale=1.0,
    )
    assert out.frames.shape == (1, 16, 32, 3)
