"""Every single-job kind through the API, run by a worker: start/end frames, extension, a long video over
two windows (its progress names the window), compose from references and animate a portrait."""

from __future__ import annotations

import json

import numpy as np

API = "/api/v1"


def _upload(server, headers: dict, name: str, blob: bytes) -> str:
    r = server.client.post(f"{API}/uploads", files={"file": (name, blob)}, headers=headers)
    assert r.status_code == 201, r.text
    return r.json()["id"]


def _run(server, headers: dict, kind: str, body: dict) -> dict:
    r = server.client.post(f"{API}/jobs/{kind}", json=body, headers=headers)
    assert r.status_code == 202, r.text
    assert server.run_jobs() == 1
    done = server.client.get(f"{API}/jobs/{r.json()['id']}", headers=headers).json()
    assert done["state"] == "done", done
    return done


def _meta(server, headers: dict, job: dict, name: str) -> dict:
    return json.loads(server.client.get(f"{API}/jobs/{job['id']}/files/{name}", headers=headers).content)


def test_generate_start_end_extension_and_long(kit, server, tmp_path, monkeypatch) -> None:
    from openreels.media.video import read_video
    from openreels.serve import workers

    alice = server.token("alice")
    first = _upload(server, alice, "a.png", kit.png(32, 32, (200, 30, 30)))
    last = _upload(server, alice, "b.png", kit.png(32, 32, (30, 30, 200)))
    clip = _upload(server, alice, "c.mp4", kit.mp4(tmp_path, frames=9))

    job = _run(server, alice, "generate", kit.TINY | {"image": first, "end_image": last})
    assert _meta(server, alice, job, "video-0.json")["task"] == "flf2v"

    job = _run(server, alice, "generate", kit.TINY | {"video": clip, "frames": 4})
    assert _meta(server, alice, job, "video-0.json")["task"] == "extend"
    frames, _ = read_video(server.data / "jobs" / job["id"] / "video-0.mp4")
    assert len(frames) == 9 + 4

    seen: list[dict] = []
    record = workers.Store.set_progress

    def spy(store, job, info):
        seen.append(info)
        return record(store, job, info)

    monkeypatch.setattr(workers.Store, "set_progress", spy)
    monkeypatch.setattr(workers, "PROGRESS_EVERY_S", 0.0)  # every step reaches the store
    job = _run(server, alice, "generate", kit.TINY | {"frames": 37})  # the tiny model's window is 33
    assert job["result"]["videos"][0]["frames"] == 37
    assert {p["window"] for p in seen if p["stage"] == "denoising"} >= {"1/2", "2/2"}, seen


def test_compose_and_animate(kit, server, tmp_path) -> None:
    from PIL import Image

    from openreels.media.video import read_video, write_video
    from openreels.train.a1 import portrait_scene
    from openreels.world import render

    alice = server.token("alice")
    rng = np.random.default_rng([5, 0])
    reference, driving = portrait_scene(rng, split=None), portrait_scene(rng, split=None)
    driving.characters[0].action = "talking"
    ref_png = tmp_path / "ref.png"
    Image.fromarray(render(reference, 1, (64, 64), 8.0).frames[0]).save(ref_png)
    drv_mp4 = write_video(tmp_path / "drv.mp4", render(driving, 16, (64, 64), 8.0).frames, 8)
    portrait = _upload(server, alice, "ref.png", ref_png.read_bytes())
    moves = _upload(server, alice, "drv.mp4", drv_mp4.read_bytes())

    body = {"prompt": kit.TINY["prompt"], "references": [{"upload": portrait, "kind": "character"}]}
    job = _run(server, alice, "compose", body | {"steps": 1})
    frames, _ = read_video(server.data / "jobs" / job["id"] / "compose.mp4")
    assert frames.shape == (16, 128, 128, 3)  # the bundled A2's default size
    bad = server.client.post(f"{API}/jobs/compose", json=body | {"references": []}, headers=alice)
    assert bad.status_code == 422

    swapped = server.client.post(
        f"{API}/jobs/animate", json={"image": moves, "driving": portrait}, headers=alice
    )
    assert swapped.status_code == 422 and "image and a video" in swapped.json()["error"]
    job = _run(server, alice, "animate", {"image": portrait, "driving": moves, "steps": 1})
    frames, _ = read_video(server.data / "jobs" / job["id"] / "animate.mp4")
    assert frames.shape == (16, 64, 64, 3)
