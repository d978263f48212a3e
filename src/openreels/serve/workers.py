"""Workers: they claim queued jobs from the store and run them through `jobs.run`.

- `Pool`: the embedded default, N worker processes beside the server (a process each, because a loaded
  pipeline is not safe to share between threads, and a crash in one job must not take the server down).
- `FarmPool`: threads in the server that hand each job (and each shot of an episode) to Ray (`farm.py`).

Either way a worker that stops (killed, crashed) leaves its job running in the store; the pool queues it again.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import traceback
from pathlib import Path

from openreels.errors import OpenreelsError
from openreels.serve import jobs
from openreels.serve.store import Job, Store

log = logging.getLogger("openreels.serve")
PROGRESS_EVERY_S = 0.2  # progress reaches the store at most this often (each write is a transaction)
CONTENT_TYPES = {
    ".mp4": "video/mp4",
    ".json": "application/json",
    ".srt": "application/x-subrip",
    ".png": "image/png",
    ".npz": "application/octet-stream",
}


def content_type(name: str) -> str:
    return CONTENT_TYPES.get(Path(name).suffix.lower(), "application/octet-stream")


def file_entries(folder: Path, url: str, names: list[str] | None = None) -> list[dict]:
    """The finished files of a folder (never temporaries) as result entries with their download URL."""
    if names is None:
        names = sorted(p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("."))
    return [
        {
            "name": n,
            "url": f"{url}/{n}",
            "content_type": content_type(n),
            "bytes": (folder / n).stat().st_size,
        }
        for n in names
        if (folder / n).is_file()
    ]


def execute(store: Store, data: Path, job: Job, farm=None) -> None:
    """Run a claimed job to its end state. Only the attempt that claimed it can end it (see Store)."""
    last = [0.0]

    def progress(info: dict) -> None:
        now = time.monotonic()
        if now - last[0] < PROGRESS_EVERY_S and info.get("done", 0) < info.get("total", 0):
            return
        last[0] = now
        if not store.set_progress(job, info):
            raise jobs.Cancelled()

    ctx = jobs.Context(data, job.id, progress)
    if ctx.out.is_dir():  # a crashed attempt's temporaries (never a finished file: those are renamed)
        for stale in ctx.out.glob(".*.partial*"):
            stale.unlink(missing_ok=True)
    try:
        if farm is not None and job.kind in farm.kinds:
            result = farm.run_job(job, ctx, store)
        else:
            result = jobs.run(job.kind, job.request, ctx, job.project_id, farm)
        if job.kind == "render":
            folder = jobs.project_dir(data, job.project_id)
            names = result.pop("project_files")
            result["files"] = file_entries(folder, f"/api/v1/projects/{job.project_id}/files", names)
        else:
            ctx.out.mkdir(parents=True, exist_ok=True)
            result["files"] = file_entries(ctx.out, f"/api/v1/jobs/{job.id}/files")
        store.finish(job, result)
    except jobs.Cancelled:
        store.fail(job, "cancelled", state="cancelled")
    except OpenreelsError as exc:
        store.fail(job, str(exc))
    except Exception:
        log.error("job %s (%s) failed:\n%s", job.id, job.kind, traceback.format_exc())
        store.fail(job, "internal error while running the job; see the server log")


def _die_with_parent() -> None:
    # No library exposes prctl: a worker must not outlive a killed server and race the restarted one.
    import ctypes
    import signal

    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def worker_main(data: str, name: str, parent: int, poll_s: float) -> None:
    """A worker process: claim, run, repeat, until the server is gone."""
    _die_with_parent()
    logging.basicConfig(level=logging.INFO, format=f"%(asctime)s {name} %(message)s")
    store = Store(data, migrate_schema=False)
    while os.getppid() == parent:
        job = store.claim(name)
        if job is None:
            time.sleep(poll_s)
            continue
        log.info("job %s (%s), attempt %d", job.id, job.kind, job.attempts)
        execute(store, Path(data), job)


class Pool:
    """N worker processes, restarted when one dies (its job goes back to the queue)."""

    def __init__(self, store: Store, workers: int, poll_s: float = 0.2) -> None:
        self.store, self.size, self.poll_s = store, workers, poll_s
        self.procs: dict[str, object] = {}
        self._stop = threading.Event()
        self._watch: threading.Thread | None = None

    def _spawn(self, name: str) -> None:
        import multiprocessing

        ctx = multiprocessing.get_context("spawn")  # no fork: the server holds threads and open databases
        proc = ctx.Process(
            target=worker_main,
            args=(str(self.store.data), name, os.getpid(), self.poll_s),
            name=name,
            daemon=True,
        )
        proc.start()
        self.procs[name] = proc

    def start(self) -> None:
        for i in range(self.size):
            self._spawn(f"w{i}-{os.getpid()}")
        self._watch = threading.Thread(target=self._supervise, daemon=True, name="pool-watch")
        self._watch.start()

    def _supervise(self) -> None:
        while not self._stop.wait(1.0):
            for name, proc in list(self.procs.items()):
                if not proc.is_alive():
                    log.warning(
                        "worker %s stopped (exit %s); its job goes back to the queue", name, proc.exitcode
                    )
                    self.store.requeue_running(name)
                    del self.procs[name]
                    self._spawn(f"{name.split('-')[0]}r{int(time.time())}-{os.getpid()}")

    def stop(self) -> None:
        self._stop.set()
        for proc in self.procs.values():
            proc.terminate()
        for name, proc in self.procs.items():
            proc.join(5)
            self.store.requeue_running(name)


class FarmPool:
    """Threads in the server that run jobs on a Ray cluster (at most `workers` jobs at once)."""

    def __init__(self, store: Store, workers: int, farm, poll_s: float = 0.2) -> None:
        self.store, self.size, self.farm, self.poll_s = store, workers, farm, poll_s
        self._stop = threading.Event()
        self.threads: list[threading.Thread] = []

    def _loop(self, name: str) -> None:
        while not self._stop.is_set():
            job = self.store.claim(name)
            if job is None:
                self._stop.wait(self.poll_s)
                continue
            execute(self.store, self.store.data, job, self.farm)

    def start(self) -> None:
        for i in range(self.size):
            t = threading.Thread(target=self._loop, args=(f"farm{i}-{os.getpid()}",), daemon=True)
            t.start()
            self.threads.append(t)

    def stop(self) -> None:
        self._stop.set()
