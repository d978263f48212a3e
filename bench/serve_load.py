"""Load and faults for `openreels serve` (loopback only, bounded in count and time).

    .venv/bin/python bench/serve_load.py                      # 5 tokens x 10 jobs, 2 workers, twice
    .venv/bin/python bench/serve_load.py --jobs 20 --out bench/results/serve_load.json

Runs a real server (`openreels serve`, a separate process) on a fresh data folder, twice:
1. "steady": every token submits its jobs at once (all 50 in flight), pollers ask for job status in a loop;
   checks that every job finishes, once (one attempt each), and times the status requests (p50/p99).
2. "kill": the same, but the server is killed with kill -9 once a third of the jobs are done and started
   again; checks that every job still finishes, that only the jobs running at the kill ran again, and that no
   output is missing or half-written.
Each job is a tiny-model text-to-video at 32x32, 5 frames, 1 step (or `--kind stage`: a one-scene drama
render with the stage renderer).

Baselines, printed beside: "idle" times the same status requests on the same server once every job is done
(nothing running); "library" runs `--baseline-jobs` of the same jobs one after another straight through the
library in one process (no server, no store, the model loaded once), for the jobs-per-second ratio.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx

API = "/api/v1"
JOB = {
    "prompt": "Medium shot, eye level, static shot. A woman is waving.",
    "size": [32, 32],
    "frames": 5,
    "steps": 1,
}
SCENE = "INT. STUDIO - DAY\n\nNOOR, a woman in a yellow shirt, waves.\n\nNOOR\nHello!\n"
STAGE = {"renderer": "stage", "size": [64, 64], "fps": 8, "scale": 1, "crossfade": 0}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start(data: Path, port: int, workers: int, log: Path) -> subprocess.Popen:
    cmd = [sys.executable, "-m", "openreels", "serve", "--data", str(data), "--port", str(port)]
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        cmd + ["--workers", str(workers)], stdout=open(log, "ab"), stderr=subprocess.STDOUT, env=env
    )
    for _ in range(600):
        try:
            if httpx.get(f"http://127.0.0.1:{port}{API}/health", timeout=1).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        if proc.poll() is not None:
            sys.exit(f"the server stopped:\n{log.read_text()[-2000:]}")
        time.sleep(0.1)
    sys.exit("the server did not come up in 60 s")


def submit_all(base: str, tokens: list[str], per_token: int, kind: str) -> list[tuple[str, str]]:
    """Every token submits its jobs at once (one thread per token); returns (token, job id) pairs."""
    out: list[tuple[str, str]] = []
    lock = threading.Lock()

    def one_token(token: str, t: int) -> None:
        headers = {"Authorization": f"Bearer {token}"}
        with httpx.Client(timeout=60) as client:
            for i in range(per_token):
                key = {"Idempotency-Key": f"load-{t}-{i}"}
                if kind == "stage":
                    project = client.post(
                        f"{base}/projects",
                        json={"fountain": SCENE, "settings": STAGE | {"seed": i}},
                        headers=headers,
                    ).json()
                    r = client.post(f"{base}/projects/{project['id']}/render", headers=headers | key)
                else:
                    r = client.post(
                        f"{base}/jobs/generate", json=JOB | {"seed": t * 1000 + i}, headers=headers | key
                    )
                r.raise_for_status()
                with lock:
                    out.append((token, r.json()["id"]))

    threads = [threading.Thread(target=one_token, args=(tok, t)) for t, tok in enumerate(tokens)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    return out


def poll_until_done(
    base: str, jobs: list[tuple[str, str]], latencies: list[float], deadline: float, on_tick=None
):
    """Poll every job's status (timing each request) until all are final; returns the final job JSONs."""
    final: dict[str, dict] = {}
    with httpx.Client(timeout=10) as client:
        while len(final) < len(jobs):
            if time.monotonic() > deadline:
                sys.exit(f"timed out with {len(jobs) - len(final)} jobs unfinished")
            for token, job_id in jobs:
                if job_id in final:
                    continue
                t0 = time.perf_counter()
                try:
                    r = client.get(f"{base}/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"})
                except httpx.HTTPError:
                    time.sleep(0.1)  # the server is down (being restarted)
                    continue
                latencies.append(time.perf_counter() - t0)
                job = r.json()
                if job["state"] in ("done", "failed", "cancelled"):
                    final[job_id] = job
            if on_tick:
                on_tick(len(final))
            time.sleep(0.05)
    return final


def run(args, kill: bool) -> dict:
    data = Path(tempfile.mkdtemp(prefix="serve-load-"))
    log = data.with_suffix(".log")
    env = os.environ | {"OMP_NUM_THREADS": "1"}
    tokens = [
        subprocess.run(
            [sys.executable, "-m", "openreels", "serve", "token", "create", f"user{t}", "--data", str(data)],
            capture_output=True, text=True, check=True, env=env,
        ).stdout.strip()
        for t in range(args.tokens)
    ]  # fmt: skip
    port = free_port()
    base = f"http://127.0.0.1:{port}{API}"
    server = start(data, port, args.workers, log)
    state = {"server": server, "killed_at": None, "restart_s": None}
    try:
        t0 = time.monotonic()
        jobs = submit_all(base, tokens, args.jobs, args.kind)
        submitted = time.monotonic() - t0
        latencies: list[float] = []

        def maybe_kill(done: int) -> None:
            if kill and state["killed_at"] is None and done >= len(jobs) // 3:
                state["server"].send_signal(signal.SIGKILL)
                state["server"].wait()
                state["killed_at"] = done
                t1 = time.monotonic()
                state["server"] = start(data, port, args.workers, log)
                state["restart_s"] = round(time.monotonic() - t1, 2)

        final = poll_until_done(base, jobs, latencies, time.monotonic() + args.timeout, maybe_kill)
        wall = time.monotonic() - t0
        idle = idle_latencies(base, jobs, rounds=4)
    finally:
        state["server"].send_signal(signal.SIGTERM)
        state["server"].wait(30)
    done = [j for j in final.values() if j["state"] == "done"]
    attempts = [j["attempts"] for j in final.values()]
    missing = [
        j["id"] for j in done
        for f in j["result"]["files"]
        if f["url"].startswith(f"{API}/jobs/") and not (data / "jobs" / j["id"] / f["name"]).is_file()
    ]  # fmt: skip
    figures = {
        "phase": "kill -9 and restart" if kill else "steady",
        "jobs": len(jobs),
        "tokens": args.tokens,
        "workers": args.workers,
        "kind": args.kind,
        "submit_s": round(submitted, 2),
        "wall_s": round(wall, 2),
        "done": len(done),
        "not_done": len(jobs) - len(done),
        "ran_more_than_once": sum(a > 1 for a in attempts),
        "killed_after_done": state["killed_at"],
        "restart_s": state["restart_s"],
        "missing_files": len(missing),
        "partial_files": len(list(data.glob("**/.*.partial*"))),
        "jobs_per_s": round(len(done) / wall, 3),
        "status_requests": len(latencies),
        "status_p50_ms": percentile_ms(latencies, 0.5),
        "status_p99_ms": percentile_ms(latencies, 0.99),
        "idle_status_p50_ms": percentile_ms(idle, 0.5),
        "idle_status_p99_ms": percentile_ms(idle, 0.99),
    }
    if not args.keep:
        shutil.rmtree(data)
        log.unlink()
    return figures


def percentile_ms(seconds: list[float], q: float) -> float:
    ordered = sorted(seconds)
    return round(1000 * ordered[min(len(ordered) - 1, int(q * len(ordered)))], 1)


def idle_latencies(base: str, jobs: list[tuple[str, str]], rounds: int) -> list[float]:
    """The same status requests once nothing runs (the baseline for the latencies under load)."""
    out = []
    with httpx.Client(timeout=10) as client:
        for _ in range(rounds):
            for token, job_id in jobs:
                t0 = time.perf_counter()
                client.get(f"{base}/jobs/{job_id}", headers={"Authorization": f"Bearer {token}"})
                out.append(time.perf_counter() - t0)
    return out


def library_baseline(kind: str, count: int) -> dict:
    """The same jobs one after another straight through the library, in this process."""
    with tempfile.TemporaryDirectory(prefix="serve-load-lib-") as tmp:
        t0 = time.monotonic()
        for i in range(count):
            if kind == "stage":
                from openreels.studio import Settings, new_project

                source = Path(tmp) / f"{i}.fountain"
                source.write_text(SCENE)
                new_project(Path(tmp) / str(i), source, settings=Settings(**STAGE | {"seed": i})).render()
            else:
                from openreels.pipelines import GenerateRequest, generate

                for n, video in enumerate(generate(GenerateRequest(**JOB | {"seed": i}))):
                    video.save(Path(tmp) / f"{i}-{n}.mp4")
        wall = time.monotonic() - t0
    return {"phase": "library, one process, serial", "jobs": count, "kind": kind, "wall_s": round(wall, 2),
            "jobs_per_s": round(count / wall, 3)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=5, help="tokens (users) submitting at once")
    parser.add_argument("--jobs", type=int, default=10, help="jobs per token")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--kind", choices=("generate", "stage"), default="generate")
    parser.add_argument("--timeout", type=float, default=600, help="give up after this many seconds a phase")
    parser.add_argument(
        "--baseline-jobs", type=int, default=10, help="jobs run straight through the library (0: skip)"
    )
    parser.add_argument("--keep", action="store_true", help="keep each phase's data folder and server log")
    parser.add_argument("--out", type=Path, help="also write the figures here as JSON")
    args = parser.parse_args()
    if not (1 <= args.tokens * args.jobs <= 500):
        sys.exit("keep it bounded: 1-500 jobs in all")
    results = [run(args, kill=False), run(args, kill=True)]
    if args.baseline_jobs:
        results.append(library_baseline(args.kind, args.baseline_jobs))
    for r in results:
        print(json.dumps(r))
    if args.baseline_jobs:
        steady, lib = results[0], results[-1]
        print(
            f"server ({args.workers} workers) {steady['jobs_per_s']} jobs/s vs library serial "
            f"{lib['jobs_per_s']} jobs/s: x{steady['jobs_per_s'] / lib['jobs_per_s']:.2f}; status p50/p99 "
            f"{steady['status_p50_ms']}/{steady['status_p99_ms']} ms under load vs "
            f"{steady['idle_status_p50_ms']}/{steady['idle_status_p99_ms']} ms idle"
        )
    if args.out:
        args.out.write_text(json.dumps(results, indent=2) + "\n")
    ok = all(r["not_done"] == 0 and r["missing_files"] == 0 and r["partial_files"] == 0 for r in results[:2])
    ok = ok and results[0]["ran_more_than_once"] == 0 and results[1]["ran_more_than_once"] <= args.workers
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
