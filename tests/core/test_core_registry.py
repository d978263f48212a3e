"""Registry contents, checkpoint location (local folder, HF cache layout, missing) and `openreels models`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from openreels.cli import main
from openreels.errors import OpenreelsError
from openreels.models import get_model, list_models, locate_weights, weights_present

V2_REPOS = [
    f"Skywork/SkyReels-V2-{n}-Diffusers"
    for n in (
        "DF-1.3B-540P",
        "DF-14B-540P",
        "DF-14B-720P",
        "T2V-14B-540P",
        "T2V-14B-720P",
        "I2V-1.3B-540P",
        "I2V-14B-540P",
        "I2V-14B-720P",
        "FLF2V-1.3B-540P",
    )
]


def test_registry_lists_every_published_checkpoint():
    specs = {s.hf_repo: s for s in list_models() if s.hf_repo}
    for repo in V2_REPOS + ["Skywork/SkyReels-V1-Hunyuan-T2V", "Skywork/SkyReels-V1-Hunyuan-I2V"]:
        assert repo in specs
    assert specs["Skywork/SkyReels-A1"].tasks == ("animate",) and specs["Skywork/SkyReels-A2"].tasks == (
        "compose",
    )
    assert (
        get_model("openreels-a2-tiny").family == "skyreels-a2" and list_models()[1].id == "openreels-a2-tiny"
    )
    assert list_models()[0].id == "openreels-tiny"
    v1 = get_model("skyreels-v1-hunyuan-t2v")
    assert v1.prompt_prefix == "FPS-24, " and v1.guidance == 6.0 and v1.embedded_guidance == 1.0
    assert v1.pipelines["t2v"] == "HunyuanVideoPipeline" and v1.negative_prompt.startswith("Aerial view")
    df720 = get_model("Skywork/SkyReels-V2-DF-14B-720P-Diffusers")
    assert df720.size == (720, 1280) and df720.frames == 121 and df720.shift == 8.0 and df720.is_df
    assert set(df720.tasks) == {"t2v", "i2v", "flf2v", "extend", "long"}
    assert get_model("skyreels-v2-i2v-14b-540p").guidance == 5.0
    assert get_model("SkyReels-V2-FLF2V-1.3B-540P").pipelines["flf2v"] == "SkyReelsV2ImageToVideoPipeline"
    for spec in list_models():
        assert spec.size[0] % 16 == 0 and spec.size[1] % 16 == 0 and spec.steps > 0


def test_unknown_model_is_one_line():
    with pytest.raises(OpenreelsError, match="unknown model") as err:
        get_model("skyreels-v9")
    assert "\n" not in str(err.value)


def test_folder_spec_reads_class_and_openreels_json(tiny_dirs):
    spec = get_model(str(tiny_dirs["v1-t2v"]))
    assert spec.family == "skyreels-v1" and spec.prompt_prefix == "FPS-24, " and spec.size == (32, 32)
    df = get_model(str(tiny_dirs["v2-df"]))
    assert df.is_df and df.frames == 9 and df.steps == 2
    assert locate_weights(df) == tiny_dirs["v2-df"]


def _fake_snapshot(hf_home: Path, repo: str) -> Path:
    """The folder layout huggingface_hub writes: models--org--name/{refs/main, snapshots/<rev>/...}."""
    repo_dir = hf_home / "hub" / f"models--{repo.replace('/', '--')}"
    snap = repo_dir / "snapshots" / "0123abcd"
    snap.mkdir(parents=True)
    (snap / "model_index.json").write_text(json.dumps({"_class_name": "SkyReelsV2DiffusionForcingPipeline"}))
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text("0123abcd")
    return snap


def test_locate_weights_local_cache_and_missing(tmp_path, monkeypatch, tiny_dirs):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    spec = get_model("skyreels-v2-df-1.3b-540p")
    assert locate_weights(spec, tiny_dirs["v2-df"]) == tiny_dirs["v2-df"]
    with pytest.raises(OpenreelsError, match="not found"):
        locate_weights(spec, tmp_path / "nope")
    with pytest.raises(OpenreelsError) as err:
        locate_weights(spec)
    msg = str(err.value)
    assert "\n" not in msg and "huggingface-cli download Skywork/SkyReels-V2-DF-1.3B-540P-Diffusers" in msg
    assert "GB" in msg
    assert not weights_present(spec)
    snap = _fake_snapshot(tmp_path / "hf", spec.hf_repo)
    assert locate_weights(spec) == snap and weights_present(spec)
    # V1 checkpoints are transformer-only: the HunyuanVideo base repo must be there too.
    v1 = get_model("skyreels-v1-hunyuan-i2v")
    _fake_snapshot(tmp_path / "hf", v1.hf_repo)
    with pytest.raises(OpenreelsError, match="hunyuanvideo-community/HunyuanVideo"):
        locate_weights(v1)
    _fake_snapshot(tmp_path / "hf", v1.base_repo)
    assert weights_present(v1)


def test_models_command_json_and_table(tmp_path, monkeypatch, capsys, tiny_dirs):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "hf"))
    _fake_snapshot(tmp_path / "hf", "Skywork/SkyReels-V2-T2V-14B-540P-Diffusers")
    assert main(["models", "--json", "--model", str(tiny_dirs["v2-i2v"])]) == 0
    rows = {r["id"]: r for r in json.loads(capsys.readouterr().out)}
    assert rows[str(tiny_dirs["v2-i2v"])]["present"] is True
    assert rows["skyreels-v2-t2v-14b-540p"]["present"] is True
    assert rows["skyreels-v2-t2v-14b-720p"]["present"] is False
    assert "huggingface-cli download" in rows["skyreels-v2-t2v-14b-720p"]["download"]
    assert rows["skyreels-v1-hunyuan-t2v"]["prompt_prefix"] == "FPS-24, "
    assert main(["models"]) == 0
    assert "skyreels-v2-df-14b-720p" in capsys.readouterr().out


def test_size_multiple_follows_vae_and_patch(tiny_dirs, tmp_path):
    import shutil

    folder = shutil.copytree(tiny_dirs["v2-df"], tmp_path / "df")
    assert get_model(str(folder)).size_multiple == 16  # 8x VAE, 2x2 patch
    config = folder / "transformer" / "config.json"
    config.write_text(json.dumps(json.loads(config.read_text()) | {"patch_size": [1, 4, 4]}))
    assert get_model(str(folder)).size_multiple == 32
