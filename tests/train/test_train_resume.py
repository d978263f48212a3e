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
        deadline = time.time() + 90
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
        timeout=120,
    )
    assert again.returncode == 0, again.stderr[-2000:]
    assert "[vae] resumed from step 2/2" in again.stderr
    assert f"[dit] resumed from step {killed_at}/" in again.stderr  # lost at most one interval (5 steps)
    assert _ckpt_step(ckpt) == killed_at + 5
    assert (out / "transformer" / "diffusion_pytorch_model.safetensors").exists()
    assert (out / "openreels.json").exists()
