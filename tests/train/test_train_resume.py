"""kill -9 in the middle of training, restart with the same arguments: it resumes from the last checkpoint."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

SRC = str(Path(__file__).resolve().parents[2] / "src")


def _cmd(out: Path) -> list[str]:
    return [
        sys.executable, "-m", "openreels", "train", "--recipe", "test", "--out", str(out),
        "--device", "cpu", "--vae-steps", "2", "--steps", "400", "--ckpt-every", "5",
    ]  # fmt: skip


def _env() -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1")
    env["PYTHONPATH"] = SRC + os.pathsep + env.get("PYTHONPATH", "")
    return env


def _ckpt_step(path: Path) -> int:
    return int(torch.load(path, map_location="cpu", weights_only=False)["step"])


def test_resume_after_kill_9(tmp_path):
    out = tmp_path / "model"
    ckpt = tmp_path / "model.work" / "dit.ckpt"
    proc = subprocess.Popen(_cmd(out), env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        # The loop ends as soon as step 15 is saved; the deadline only bounds a hung run (a loaded CI box
        # takes minutes to import torch and render, so no tight wall-clock budget).
        deadline = time.time() + 600
        seen = 0
        while time.time() < deadline and seen < 15:
            time.sleep(0.2)
            if ckpt.exists():
                seen = _ckpt_step(ckpt)  # atomic writes: always a whole file
            assert proc.poll() is None, proc.stdout.read().decode()
        assert seen >= 15, "training never reached step 15"
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
    killed_at = _ckpt_step(ckpt)
    assert not out.exists()  # nothing exported by the killed run

    again = subprocess.run(
        [*_cmd(out)[:-4], "--steps", str(killed_at + 5), "--ckpt-every", "5"],
        env=_env(),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert "encoded data and the VAE loaded" in again.stderr  # stages 1-3 are not redone
    assert f"[dit] resumed from step {killed_at}/" in again.stderr  # lost at most one interval (5 steps)
    assert _ckpt_step(ckpt) == killed_at + 5
    assert (out / "transformer" / "diffusion_pytorch_model.safetensors").exists()
    assert (out / "openreels.json").exists()


def _small_test_recipe():
    from dataclasses import replace

    from openreels.train.recipes import get_recipe

    r = get_recipe("test")
    r.clips = 12
    r.vae_loop = replace(r.vae_loop, steps=2)
    r.dit_loop = replace(r.dit_loop, steps=12, ckpt_every=100)
    return r


def test_paused_run_resumes_from_cached_latents_to_the_same_weights(tmp_path, monkeypatch):
    import pytest

    from openreels.train import loop
    from openreels.train.runner import run_recipe

    logs: list[str] = []
    straight = run_recipe(_small_test_recipe(), tmp_path / "a", tmp_path / "a.work", "cpu", log=logs.append)
    assert straight["dit_steps"] == 12

    original = loop.Trainer._should_pause
    monkeypatch.setattr(
        loop.Trainer, "_should_pause", lambda self: (self.name == "dit" and self.step == 7) or original(self)
    )
    with pytest.raises(loop.TrainingPaused) as paused:
        run_recipe(_small_test_recipe(), tmp_path / "b", tmp_path / "b.work", "cpu", log=logs.append)
    assert (paused.value.name, paused.value.step) == ("dit", 7)
    assert not (tmp_path / "b").exists()  # nothing exported by a paused run
    monkeypatch.setattr(loop.Trainer, "_should_pause", original)

    logs.clear()
    resumed = run_recipe(_small_test_recipe(), tmp_path / "b", tmp_path / "b.work", "cpu", log=logs.append)
    assert any("encoded data and the VAE loaded" in line for line in logs)  # no second render or encode
    assert not any(line.startswith("[render]") for line in logs)
    assert "[dit] resumed from step 7/12" in logs
    assert resumed["clips"] == 12 and resumed["vae_psnr_db"] == straight["vae_psnr_db"]
    from safetensors.torch import load_file

    a = load_file(tmp_path / "a" / "transformer" / "diffusion_pytorch_model.safetensors")
    b = load_file(tmp_path / "b" / "transformer" / "diffusion_pytorch_model.safetensors")
    assert a.keys() == b.keys()
    for k in a:
        torch.testing.assert_close(a[k], b[k], msg=k)


def test_pause_deadline_checkpoints_then_resumes(tmp_path):
    import pytest

    from openreels.train.loop import LoopConfig, Trainer, TrainingPaused

    model = torch.nn.Linear(3, 1)

    def trainer(pause_at):
        return Trainer(
            "lin",
            model,
            lambda m, b, g, n: (m(b["x"]) - 1).pow(2).mean(),
            lambda step, rank: {"x": torch.ones(4, 3)},
            LoopConfig(steps=5, lr=1e-2, warmup=1, ema_decay=None, ckpt_every=100),
            tmp_path,
            torch.device("cpu"),
            pause_at=pause_at,
            log=lambda line: None,
        )

    with pytest.raises(TrainingPaused, match="paused at step 0/5"):
        trainer(time.monotonic() - 1).run()
    assert _ckpt_step(tmp_path / "lin.ckpt") == 0
    resumed = trainer(None)
    resumed.run()
    assert resumed.step == 5 and resumed.cfg.steps == 5  # the schedule was not cut short
