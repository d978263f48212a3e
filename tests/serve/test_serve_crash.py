"""A real `openreels serve` process with its worker processes, killed with kill -9 in the middle of an
episode render and of single jobs, then started again: every job finishes, the running ones resume (the
episode from its shot cache: no finished shot is rendered again), and nothing is left half-written."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

API = "/api/v1"
# An episode of many short stage-rendered shots (no model: a few tenths of a second each, so the kill lands
# between the first shot stored and the last) and one line of dialogue.
ACTIONS = ("waves", "walks to the window", "sits down", "stands up", "looks at the door", "smiles", "nods")
EPISODE = (
    "Title: Crash\n\nINT. STUDIO - DAY\n\nNOOR, a woman with short black hair in a yellow shirt, waves.\n\n"
    "NOOR\nHello!\n\n" + "".join(f"Noor {ACTIONS[i % len(ACTIONS)]}.\n\n" for i in range(24))
)
SHOTS = {"renderer": "stage", "size": [256, 256], "fps": 8, "window": 17, "scale": 1, "crossfade": 0}


def _children(pid: int) -> list[int]:
    kids = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            kids.append(int(stat.parent.name))
    return kids


def _stored(shots: Path) -> dict[str, tuple[int, int]]:
    """The finished shots of the cache (not the temporaries being written) with their inode and mtime."""
    files = shots.glob("[!.]*.npz") if shots.is_dir() else []
    return {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in files}


def _alive(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except OSError:
        return False


def test_kill_9_mid_render_then_restart_finishes_every_job_once(kit, serve_process, tmp_path) -> None:
    data, log = tmp_path / "data", tmp_path / "server.log"
    token = subprocess.run(
        [sys.executable, "-m", "openreels", "serve", "token", "create", "alice", "--data", str(data)],
        capture_output=True, text=True, check=True,
    ).stdout.strip()  # fmt: skip
    headers = {"Authorization": f"Bearer {token}"}
    client = httpx.Client(timeout=60)  # generous: CI machines are small and busy
    port = serve_process.free_port()
    base = f"http://127.0.0.1:{port}{API}"
    server = serve_process.start(data, port, log)
    try:
        project = client.post(
            f"{base}/projects", json={"fountain": EPISODE, "settings": SHOTS}, headers=headers
        ).json()
        render = client.post(f"{base}/projects/{project['id']}/render", headers=headers).json()
        singles = [
            client.post(f"{base}/jobs/generate", json=kit.TINY | {"seed": i}, headers=headers).json()
            for i in range(2)
        ]
        shots_dir = data / "projects" / project["id"] / "cache" / "shots"
        deadline = time.monotonic() + 300
        while not _stored(shots_dir):
            assert time.monotonic() < deadline and server.poll() is None, log.read_text()
            time.sleep(0.01)
        workers = _children(server.pid)
        server.send_signal(signal.SIGKILL)  # at once: the render is somewhere in its shots
        server.wait(10)
        before = _stored(shots_dir)
        deadline = time.monotonic() + 10
        while any(_alive(w) for w in workers) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert workers and not any(_alive(w) for w in workers), "workers outlived the killed server"

        server = serve_process.start(data, port, log)
        ids = [render["id"]] + [j["id"] for j in singles]
        deadline = time.monotonic() + 300
        while True:
            jobs = {i: client.get(f"{base}/jobs/{i}", headers=headers).json() for i in ids}
            if all(j["state"] in ("done", "failed", "cancelled") for j in jobs.values()):
                break
            assert time.monotonic() < deadline and server.poll() is None, (jobs, log.read_text()[-3000:])
            time.sleep(0.3)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(30)

    assert all(j["state"] == "done" for j in jobs.values()), jobs
    assert jobs[render["id"]]["attempts"] == 2 and "queued again" in log.read_text()
    assert all(j["attempts"] in (1, 2) for j in jobs.values())
    report = jobs[render["id"]]["result"]["report"]
    # The kill came mid-render: some shots were stored, not all; those were kept untouched, not rendered again.
    assert 0 < len(before) < report["shots"], (len(before), report)
    assert report["cached"] == len(before) and report["rendered"] == report["shots"] - len(before)
    after = _stored(shots_dir)
    assert all(after[name] == stamp for name, stamp in before.items())
    assert len(after) == report["shots"]
    assert not list(data.glob("**/.*.partial*")), "half-written files were left behind"
    from openreels.media.video import read_video

    frames, _ = read_video(data / "projects" / project["id"] / "episode.mp4")
    assert len(frames) > 0
    for job in singles:
        frames, _ = read_video(data / "jobs" / job["id"] / "video-0.mp4")
        assert frames.shape == (5, 32, 32, 3)
