"""The render farm: jobs, and each shot of an episode, as Ray tasks on an existing cluster.

Tasks are pure: their inputs travel with them (upload bytes, the shot and its cast) and their outputs come
back through Ray's object store, so the nodes need openreels installed but no shared disk; the server writes
every file. A task on a node that dies is retried on another (Ray's `max_retries`, for system failures
only: a job's own error is not retried). Each Ray worker process keeps the last model it loaded (the
library's pipeline cache), so the shots of an episode on one worker load the model once.
"""

from __future__ import annotations

import logging
import tempfile
from pathlib import Path

from openreels.errors import OpenreelsError
from openreels.serve import jobs

log = logging.getLogger("openreels.serve")
RETRIES = 3  # how often Ray runs a task again after losing its node or worker process
WAIT_S = 0.25  # how often the server checks on its tasks (progress, cancellation)


def upload_ids(kind: str, request: dict) -> list[str]:
    if kind == "generate":
        return [request[k] for k in ("image", "end_image", "video") if request.get(k)]
    if kind == "compose":
        return [r["upload"] for r in request["references"]]
    if kind == "animate":
        return [request["image"], request["driving"]]
    return []


def _run_job(kind: str, request: dict, uploads: dict[str, bytes]) -> tuple[dict, dict[str, bytes]]:
    """On a node: the job in a scratch data folder; its result and the bytes of its files."""
    with tempfile.TemporaryDirectory(prefix="openreels-job-") as tmp:
        data = Path(tmp)
        (data / "uploads").mkdir()
        for upload_id, blob in uploads.items():
            (data / "uploads" / upload_id).write_bytes(blob)
        ctx = jobs.Context(data, "job", lambda info: None)
        result = jobs.run(kind, request, ctx, None)
        files = {p.name: p.read_bytes() for p in ctx.out.iterdir() if not p.name.startswith(".")}
    return result, files


def _render_shot(renderer, shot, cast, settings, references):
    """On a node: one storyboard shot's frames, and which node made them."""
    import ray

    return renderer(shot, cast, settings, references), ray.get_runtime_context().get_node_id()


class RayFarm:
    """Connects to a Ray cluster (`address`: "auto", "HOST:PORT" or "ray://HOST:PORT")."""

    kinds = ("generate", "compose", "animate")  # run here as one task; renders are split into shots

    def __init__(self, address: str = "auto", task_gpus: float = 0, task_cpus: float = 1) -> None:
        try:
            import ray
        except ImportError as exc:
            raise OpenreelsError("--farm ray needs Ray: pip install 'openreels[ray]'") from exc
        self.ray = ray
        if not ray.is_initialized():
            try:
                ray.init(address=address, include_dashboard=False, logging_level=logging.WARNING)
            except ConnectionError as exc:
                raise OpenreelsError(
                    f"no Ray cluster at {address}; start one (`ray start --head`) or pass its address"
                ) from exc
        options = dict(num_cpus=task_cpus, num_gpus=task_gpus, max_retries=RETRIES, retry_exceptions=False)
        self._job_task = ray.remote(_run_job).options(**options)
        self._shot_task = ray.remote(_render_shot).options(**options)
        self.shot_nodes: dict[str, str] = {}  # shot key -> node id that rendered it (for reports and tests)

    def _wait(self, refs: list, store=None, job=None) -> tuple[list, list]:
        done, pending = self.ray.wait(refs, num_returns=len(refs), timeout=WAIT_S)
        if store is not None and store.job(job.id).cancel_requested:
            for ref in pending:
                self.ray.cancel(ref, force=True)
            raise jobs.Cancelled()
        return done, pending

    def _get(self, ref):
        try:
            return self.ray.get(ref)
        except self.ray.exceptions.RayTaskError as exc:
            cause = exc.cause
            if isinstance(cause, OpenreelsError):
                raise OpenreelsError(str(cause)) from None
            raise

    def run_job(self, job, ctx: jobs.Context, store) -> dict:
        """A single job as one task; its files are written into the job folder here."""
        from openreels.media.video import atomic_output

        uploads = {u: ctx.upload(u).read_bytes() for u in upload_ids(job.kind, job.request)}
        ctx.progress({"stage": "farm", "done": 0, "total": 1, "eta_s": None, "label": "on the Ray farm"})
        ref = self._job_task.remote(job.kind, job.request, uploads)
        pending = [ref]
        while pending:
            _, pending = self._wait(pending, store, job)
        result, files = self._get(ref)
        for name, blob in files.items():
            with atomic_output(ctx.out / name) as tmp:
                tmp.write_bytes(blob)
        return result

    def render_shots(self, project, progress, shot_renderer=None) -> int:
        """Every shot of `project` missing from its cache, in parallel on the farm; each lands in the cache
        as soon as it is back (a killed server keeps the finished ones). Returns how many were rendered."""
        prepared = project.prepare(shot_renderer, progress=progress)
        missing = prepared.missing()
        if not missing:
            return 0
        args = (prepared.renderer, prepared.cast, prepared.settings, prepared.references)
        renderer, cast, settings, references = (self.ray.put(a) for a in args)
        by_ref = {self._shot_task.remote(renderer, t.shot, cast, settings, references): t for t in missing}
        pending, finished = list(by_ref), 0
        progress("shots", 0, len(missing))
        while pending:
            done, pending = self.ray.wait(pending, num_returns=1, timeout=WAIT_S)
            for ref in done:
                task = by_ref[ref]
                frames, node = self._get(ref)
                prepared.store(task, frames)
                self.shot_nodes[task.key] = node
                finished += 1
            try:
                progress("shots", finished, len(missing))
            except jobs.Cancelled:
                for ref in pending:
                    self.ray.cancel(ref, force=True)
                raise
        return finished
