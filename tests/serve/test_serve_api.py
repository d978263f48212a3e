"""The API through FastAPI's test client: auth and ownership, uploads, single jobs with progress events,
downloads with ranges, cancellation, idempotency, limits and JSON errors."""

from __future__ import annotations

import json
import threading

import numpy as np

API = "/api/v1"


def test_health_needs_no_token_and_everything_else_does(server) -> None:
    c = server.client
    assert c.get(f"{API}/health").json()["status"] == "ok"
    r = c.get(f"{API}/me")
    assert r.status_code == 401 and "Bearer" in r.json()["error"]
    assert c.get(f"{API}/me", headers={"Authorization": "Bearer nope"}).status_code == 401
    alice = server.token("alice")
    assert c.get(f"{API}/me", headers=alice).json() == {"name": "alice"}
    secret = alice["Authorization"].split()[1]
    assert c.get(f"{API}/me?access_token={secret}").json() == {"name": "alice"}
    assert c.get(f"{API}/openapi.json").json()["info"]["title"] == "openreels serve"


def _events(client, url: str, headers: dict, on_event=None) -> list[tuple[str, dict]]:
    events, name = [], None
    with client.stream("GET", url, headers=headers) as r:
        assert r.headers["content-type"].startswith("text/event-stream")
        for line in r.iter_lines():
            if line.startswith("event: "):
                name = line[7:]
            elif line.startswith("data: "):
                events.append((name, json.loads(line[6:])))
                if on_event:
                    on_event(*events[-1])
    return events


def test_generate_job_streams_progress_and_serves_its_video_with_ranges(kit, server, monkeypatch) -> None:
    from openreels.media.video import read_video
    from openreels.serve import jobs

    # The stream samples the job's latest state; a tiny job can denoise between two samples. So the worker
    # holds at its first denoising step until the stream has delivered one (no timing assumption).
    seen_denoising = threading.Event()
    report = jobs.Eta.__call__

    def held_report(self, stage, done, total, **extra):
        report(self, stage, done, total, **extra)
        if stage == "denoising" and done >= 1:
            seen_denoising.wait(timeout=60)

    monkeypatch.setattr(jobs.Eta, "__call__", held_report)

    def on_event(name, body):
        progress = body["progress"] or {}
        if name == "progress" and progress.get("stage") == "denoising" and progress["done"] >= 1:
            seen_denoising.set()

    c, alice = server.client, server.token("alice")
    r = c.post(f"{API}/jobs/generate", json=kit.TINY, headers=alice | {"Idempotency-Key": "k1"})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["state"] == "queued" and job["kind"] == "generate" and job["attempts"] == 0
    again = c.post(f"{API}/jobs/generate", json=kit.TINY, headers=alice | {"Idempotency-Key": "k1"})
    assert again.status_code == 200 and again.json()["id"] == job["id"]
    other = c.post(
        f"{API}/jobs/generate", json=kit.TINY | {"seed": 3}, headers=alice | {"Idempotency-Key": "k1"}
    )
    assert other.status_code == 409 and "Idempotency-Key" in other.json()["error"]

    worker = threading.Timer(0.5, server.run_jobs)
    worker.start()
    events = _events(c, f"{API}/jobs/{job['id']}/events", alice, on_event)
    worker.join()
    names = [n for n, _ in events]
    assert names[-1] == "done" and names.count("done") == 1
    steps = [e["progress"] for n, e in events if n == "progress" and e["progress"]]
    assert seen_denoising.is_set()
    assert any(p["stage"] == "denoising" and p["done"] >= 1 and p["total"] >= 1 for p in steps), steps
    done = events[-1][1]
    assert done["state"] == "done" and done["attempts"] == 1 and done["result"]["videos"][0]["frames"] == 5

    files = {f["name"]: f for f in done["result"]["files"]}
    assert files["video-0.mp4"]["content_type"] == "video/mp4" and "video-0.json" in files
    url = files["video-0.mp4"]["url"]
    whole = c.get(url, headers=alice)
    assert whole.status_code == 200 and whole.headers["content-type"] == "video/mp4"
    assert len(whole.content) == files["video-0.mp4"]["bytes"]
    part = c.get(url, headers=alice | {"Range": "bytes=10-109"})
    assert part.status_code == 206 and part.content == whole.content[10:110]
    assert part.headers["content-range"] == f"bytes 10-109/{len(whole.content)}"
    path = server.data / "jobs" / job["id"] / "video-0.mp4"
    frames, fps = read_video(path)
    assert frames.shape == (5, 32, 32, 3) and fps == 8
    assert json.loads(c.get(files["video-0.json"]["url"], headers=alice).content)["seed"] == 0


def test_every_object_is_invisible_to_other_tokens(kit, server, tmp_path) -> None:
    c, alice, bob = server.client, server.token("alice"), server.token("bob")
    up = c.post(f"{API}/uploads", files={"file": ("a.png", kit.png())}, headers=alice).json()
    job = c.post(f"{API}/jobs/generate", json=kit.TINY, headers=alice).json()
    project = c.post(f"{API}/projects", json={"fountain": "INT. STUDIO - DAY\n\nNOOR\nHi.\n"}, headers=alice)
    assert project.status_code == 201, project.text
    pid = project.json()["id"]
    for method, url in [
        ("GET", f"/jobs/{job['id']}"),
        ("GET", f"/jobs/{job['id']}/events"),
        ("GET", f"/jobs/{job['id']}/files/video-0.mp4"),
        ("POST", f"/jobs/{job['id']}/cancel"),
        ("GET", f"/uploads/{up['id']}"),
        ("GET", f"/projects/{pid}"),
        ("GET", f"/projects/{pid}/script"),
        ("POST", f"/projects/{pid}/render"),
        ("GET", f"/projects/{pid}/files/episode.mp4"),
    ]:
        r = c.request(method, API + url, headers=bob)
        assert r.status_code == 404 and "error" in r.json(), (url, r.status_code, r.text)
    assert c.get(f"{API}/jobs", headers=bob).json() == {"jobs": []}
    assert c.get(f"{API}/projects", headers=bob).json() == {"projects": []}
    # Someone else's upload cannot be used either.
    r = c.post(f"{API}/jobs/generate", json=kit.TINY | {"image": up["id"]}, headers=bob)
    assert r.status_code == 404
    assert c.get(f"{API}/jobs/{job['id']}", headers=alice).json()["state"] == "queued"


def test_uploads_are_checked_by_decoding_and_capped(kit, server, tmp_path) -> None:
    c, alice = server.client, server.token("alice")
    r = c.post(f"{API}/uploads", files={"file": ("x.bin", kit.png(24, 40))}, headers=alice)
    assert r.status_code == 201
    assert r.json() | {"id": ""} == {
        "id": "", "kind": "image", "content_type": "image/png", "bytes": len(kit.png(24, 40)),
        "width": 40, "height": 24, "frames": 1,
    }  # fmt: skip
    video = c.post(f"{API}/uploads", files={"file": ("clip.png", kit.mp4(tmp_path))}, headers=alice).json()
    assert (video["kind"], video["frames"], video["content_type"]) == ("video", 9, "video/mp4")
    fake = c.post(f"{API}/uploads", files={"file": ("evil.png", b"#!/bin/sh\necho hi\n" * 10)}, headers=alice)
    assert fake.status_code == 415 and "decoded" in fake.json()["error"]
    truncated = kit.png(64, 64)[:-40]
    assert c.post(f"{API}/uploads", files={"file": ("t.png", truncated)}, headers=alice).status_code == 415
    big = c.post(f"{API}/uploads", files={"file": ("big.png", kit.png(300, 300))}, headers=alice)
    assert big.status_code == 413 and "pixels" in big.json()["error"]
    long = c.post(f"{API}/uploads", files={"file": ("l.mp4", kit.mp4(tmp_path, frames=41))}, headers=alice)
    assert long.status_code == 413 and "frames" in long.json()["error"]
    noise = np.random.default_rng(0).integers(0, 255, (2 << 20,), dtype=np.uint8).tobytes()
    assert c.post(f"{API}/uploads", files={"file": ("n.png", noise)}, headers=alice).status_code == 413
    kept = sorted(p.name for p in (server.data / "uploads").iterdir())
    assert kept == sorted([r.json()["id"], video["id"]])  # nothing half-written or refused is kept


def test_image_to_video_from_an_upload(kit, server) -> None:
    c, alice = server.client, server.token("alice")
    up = c.post(f"{API}/uploads", files={"file": ("face.png", kit.png(48, 48))}, headers=alice).json()
    job = c.post(f"{API}/jobs/generate", json=kit.TINY | {"image": up["id"]}, headers=alice).json()
    assert server.run_jobs() == 1
    done = c.get(f"{API}/jobs/{job['id']}", headers=alice).json()
    assert done["state"] == "done", done
    meta = json.loads(c.get(f"{API}/jobs/{job['id']}/files/video-0.json", headers=alice).content)
    assert meta["task"] == "i2v"


def test_bad_requests_get_one_json_line_and_nothing_escapes_the_data_folder(kit, server, monkeypatch) -> None:
    c, alice = server.client, server.token("alice")

    def error(r, status: int) -> str:
        assert r.status_code == status, (r.status_code, r.text)
        body = r.json()
        assert list(body) == ["error"] and "\n" not in body["error"] and "Traceback" not in body["error"]
        return body["error"]

    assert "prompt" in error(
        c.post(f"{API}/jobs/generate", json=kit.TINY | {"prompt": "x" * 5000}, headers=alice), 422
    )
    assert "empty" in error(
        c.post(f"{API}/jobs/generate", json=kit.TINY | {"prompt": "  "}, headers=alice), 422
    )
    assert "nope" in error(
        c.post(f"{API}/jobs/generate", json=kit.TINY | {"model": "nope"}, headers=alice), 422
    )
    assert "device" in error(
        c.post(f"{API}/jobs/generate", json=kit.TINY | {"device": "cuda"}, headers=alice), 422
    )
    assert "frames" in error(
        c.post(f"{API}/jobs/generate", json=kit.TINY | {"frames": 0}, headers=alice), 422
    )
    assert "upload" in error(
        c.post(f"{API}/jobs/generate", json=kit.TINY | {"image": "../../serve.db"}, headers=alice), 404
    )
    error(
        c.post(
            f"{API}/jobs/generate", content=b"{not json", headers=alice | {"Content-Type": "application/json"}
        ),
        422,
    )
    huge = {"prompt": "a", "negative_prompt": "b" * 3000, "pad": "c" * (70 << 10)}
    assert "body" in error(c.post(f"{API}/jobs/generate", json=huge, headers=alice), 413)
    job = c.post(f"{API}/jobs/generate", json=kit.TINY, headers=alice).json()
    for name in ("..%2F..%2Fserve.db", "../serve.db", "video-0.mp4", ".%2e", "serve.db"):
        r = c.get(f"{API}/jobs/{job['id']}/files/{name}", headers=alice)
        assert r.status_code == 404 and not r.content.startswith(b"SQLite"), name
    for pid in ("..", "..%2F..", "x" * 40):
        assert c.get(f"{API}/projects/{pid}/files/episode.mp4", headers=alice).status_code == 404
    assert c.get(f"{API}/jobs?state=bogus", headers=alice).status_code == 422

    def boom(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(server.store, "jobs", boom)
    assert error(c.get(f"{API}/jobs", headers=alice), 500) == "internal error; see the server log"


def test_cancel_a_queued_job_at_once_and_a_running_one_at_its_next_step(kit, server) -> None:
    from openreels.serve.workers import execute

    c, alice = server.client, server.token("alice")
    first = c.post(f"{API}/jobs/generate", json=kit.TINY, headers=alice).json()
    second = c.post(f"{API}/jobs/generate", json=kit.TINY | {"seed": 1}, headers=alice).json()
    assert c.post(f"{API}/jobs/{second['id']}/cancel", headers=alice).json()["state"] == "cancelled"
    job = server.store.claim("test")
    assert job.id == first["id"]
    running = c.post(f"{API}/jobs/{job.id}/cancel", headers=alice).json()
    assert running["state"] == "running"
    execute(server.store, server.data, job)
    assert c.get(f"{API}/jobs/{job.id}", headers=alice).json()["state"] == "cancelled"
    assert server.store.claim("test") is None  # the cancelled queued job never runs
    assert not (server.data / "jobs" / job.id / "video-0.mp4").exists()


def test_store_keeps_hashes_claims_once_and_fences_stale_attempts(tmp_path) -> None:
    import sqlite3

    from openreels.serve.store import Store

    store = Store(tmp_path)
    secret = store.create_token("alice")
    with sqlite3.connect(tmp_path / "serve.db") as db:
        assert db.execute("select version_num from alembic_version").fetchone() == ("0001",)
        assert db.execute("pragma journal_mode").fetchone() == ("wal",)
    assert secret.encode() not in (tmp_path / "serve.db").read_bytes()
    token = store.token_for(secret)
    a, _ = store.submit(token.id, "generate", {"prompt": "a"})
    b, _ = store.submit(token.id, "generate", {"prompt": "b"})
    one, two = store.claim("w1"), store.claim("w2")
    assert {one.id, two.id} == {a.id, b.id} and store.claim("w3") is None
    assert store.requeue_running("w1") == 1  # w1 died: only its job goes back
    again = store.claim("w4")
    assert again.id == one.id and again.attempts == 2
    assert not store.finish(one, {"files": []})  # the first attempt cannot finish it any more
    assert store.finish(again, {"files": []})
    assert store.job(one.id).state == "done" and Store(tmp_path).job(two.id).state == "running"
