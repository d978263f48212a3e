"""What each job kind takes and does. `check_*` runs when a job is submitted, so a bad request is refused at
once with the library's own message; `run` runs in a worker and calls the library (no model logic here).

Results are files in the job's folder (DATA/jobs/ID/), each written to a temporary name and renamed."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field

from openreels.errors import OpenreelsError

PROMPT_CHARS = 4000
STORY_CHARS = 100_000
Progress = Callable[[dict], None]  # called with a progress dict; raises Cancelled when the job should stop


class Cancelled(Exception):
    """The job was cancelled while it ran."""


class GenerateBody(BaseModel):
    """The library's GenerateRequest, with upload ids where it takes arrays (device and dtype are the server's)."""

    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(max_length=PROMPT_CHARS)
    model: str | None = None
    image: str | None = Field(None, description="upload id: first frame (image-to-video)")
    end_image: str | None = Field(None, description="upload id: last frame (with image: start/end frames)")
    video: str | None = Field(None, description="upload id: a video to extend")
    frames: int | None = Field(None, le=2000)
    size: tuple[int, int] | None = None
    steps: int | None = Field(None, le=200)
    guidance: float | None = None
    shift: float | None = None
    seed: int = 0
    negative_prompt: str | None = Field(None, max_length=PROMPT_CHARS)
    ar_step: int = 0
    causal_block_size: int | None = None
    overlap_history: int | None = None
    addnoise_condition: float | None = None
    num_videos: int = Field(1, le=4)
    fps: int | None = Field(None, le=120)


class Reference(BaseModel):
    model_config = ConfigDict(extra="forbid")
    upload: str
    kind: Literal["character", "object", "background"]


class ComposeBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    prompt: str = Field(max_length=PROMPT_CHARS)
    references: list[Reference] = Field(min_length=1, max_length=3)
    model: str = "openreels-a2-tiny"
    frames: int | None = Field(None, ge=1, le=500)
    size: tuple[int, int] | None = None
    steps: int | None = Field(None, ge=1, le=200)
    guidance: float | None = None
    shift: float | None = None
    seed: int = 0
    negative_prompt: str | None = Field(None, max_length=PROMPT_CHARS)
    fps: float | None = Field(None, gt=0, le=120)


class AnimateBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    image: str = Field(description="upload id: the portrait to move")
    driving: str = Field(description="upload id: the driving video")
    model: str | None = None
    steps: int = Field(10, ge=1, le=200)
    guidance: float | None = None
    pose_guidance: float | None = None
    seed: int = 0
    size: tuple[int, int] | None = None
    fps: float | None = Field(None, gt=0, le=120)
    window: int | None = Field(None, ge=1)


class Context:
    """Where a job runs: the data folder, its own output folder and the progress callback."""

    def __init__(self, data: Path, job_id: str, progress: Progress) -> None:
        self.data = data
        self.out = data / "jobs" / job_id
        self.progress = progress

    def upload(self, upload_id: str) -> Path:
        # Upload ids were checked against the token at submission; ids are hex, never paths.
        if not upload_id.isalnum():
            raise OpenreelsError(f"unknown upload {upload_id!r}")
        return self.data / "uploads" / upload_id


class Eta:
    """Progress dicts with an ETA: the stage's rate so far times what is left."""

    def __init__(self, report: Progress) -> None:
        self.report = report
        self.stage: str | None = None
        self.since = time.monotonic()

    def __call__(self, stage: str, done: int, total: int, **extra) -> None:
        now = time.monotonic()
        if stage != self.stage:
            self.stage, self.since = stage, now
        eta = (now - self.since) / done * (total - done) if done > 0 and total else None
        info = {"stage": stage, "done": done, "total": total, "eta_s": None if eta is None else round(eta, 1)}
        self.report(info | {"label": "", "window": None, "shot": None} | extra)


# --- generate ---------------------------------------------------------------------------------------------
def generate_request(body: GenerateBody, uploads: Callable[[str], Path]):
    """The library request for a body (arrays read from the uploads), checked by the library's own rules."""
    from openreels.media.video import read_image, read_video
    from openreels.pipelines import GenerateRequest, plan

    fields = body.model_dump(exclude_none=True, exclude={"image", "end_image", "video"})
    if body.image:
        fields["image"] = read_image(uploads(body.image))
    if body.end_image:
        fields["end_image"] = read_image(uploads(body.end_image))
    if body.video:
        fields["video"] = read_video(uploads(body.video))[0]
    request = GenerateRequest(**fields)
    plan(request)  # the model's rules (task, sizes, frames, window) refuse a bad request before it queues
    return request


def run_generate(request: dict, ctx: Context) -> dict:
    from openreels.pipelines import generate

    eta = Eta(ctx.progress)
    eta("loading", 0, 1)
    req = generate_request(GenerateBody(**request), ctx.upload)

    def on_step(done: int, total: int, label: str) -> None:
        window = label.split("window ", 1)[1] if "window " in label else None
        eta("denoising", done, total, label=label, window=window)

    videos = generate(req, progress=on_step)
    return write_videos(videos, ctx)


def write_videos(videos, ctx: Context) -> dict:
    """Each video as video-I.mp4 with its JSON sidecar in the job folder."""
    out = []
    for i, video in enumerate(videos):
        video.save(ctx.out / f"video-{i}.mp4")
        out.append(
            {
                "file": f"video-{i}.mp4",
                "frames": int(len(video.frames)),
                "fps": float(video.fps),
                "seed": video.metadata.get("seed"),
            }
        )
    return {"videos": out}


# --- compose and animate ----------------------------------------------------------------------------------
def check_compose(body: ComposeBody, uploads: Callable[[str], Path]) -> None:
    from openreels.pipelines.a2 import check_reference_count, load_reference, prepare_references
    from openreels.pipelines.compose import folder_defaults, locate_a2

    defaults = folder_defaults(locate_a2(body.model))
    height, width = body.size or (defaults.height, defaults.width)
    check_reference_count(len(body.references))
    refs = [load_reference(uploads(r.upload), r.kind) for r in body.references]
    prepare_references(refs, height, width)


def run_compose(request: dict, ctx: Context) -> dict:
    from openreels import __version__
    from openreels.media import write_video
    from openreels.pipelines.a2 import load_reference
    from openreels.pipelines.compose import folder_defaults, load_compose_pipeline, locate_a2

    body = ComposeBody(**request)
    eta = Eta(ctx.progress)
    eta("loading", 0, 1)
    root = locate_a2(body.model)
    defaults = folder_defaults(root)
    height, width = body.size or (defaults.height, defaults.width)
    refs = [load_reference(ctx.upload(r.upload), r.kind) for r in body.references]
    pipe = load_compose_pipeline(root)
    result = pipe(
        body.prompt,
        refs,
        negative_prompt=body.negative_prompt,
        height=height,
        width=width,
        num_frames=body.frames,
        num_inference_steps=body.steps,
        guidance_scale=body.guidance,
        shift=body.shift,
        seed=body.seed,
        fps=body.fps,
        on_step=lambda done, total: eta("denoising", done, total),
    )
    fps = result.fps
    meta = {"task": "compose", "model": body.model, "version": __version__, **request}
    write_video(ctx.out / "compose.mp4", result.frames, fps, metadata=meta)
    return {"videos": [{"file": "compose.mp4", "frames": int(len(result.frames)), "fps": float(fps)}]}


def run_animate(request: dict, ctx: Context) -> dict:
    from openreels.cli.animate import run_animate as animate_files

    body = AnimateBody(**request)
    Eta(ctx.progress)("animating", 0, 1)
    size = f"{body.size[0]}x{body.size[1]}" if body.size else None
    ctx.out.mkdir(parents=True, exist_ok=True)
    result = animate_files(
        ctx.upload(body.image),
        ctx.upload(body.driving),
        ctx.out / "animate.mp4",
        body.model,
        body.steps,
        body.guidance,
        body.pose_guidance,
        body.seed,
        size,
        body.fps,
        0,
        body.window,
        True,
        False,
    )
    return {"videos": [{"file": "animate.mp4", "frames": result.get("frames"), "fps": result.get("fps")}]}


# --- drama projects ---------------------------------------------------------------------------------------
def project_dir(data: Path, project_id: str) -> Path:
    return data / "projects" / project_id


def studio_progress(eta: Eta) -> Callable[[str, int, int], None]:
    return lambda stage, done, total: eta(stage, done, total)


def run_plan(request: dict, ctx: Context, project_id: str) -> dict:
    from openreels.studio import Project

    project = Project(project_dir(ctx.data, project_id))
    board = project.plan(force=bool(request.get("force")), progress=studio_progress(Eta(ctx.progress)))
    return {"shots": len(board.shots)}


def run_render(request: dict, ctx: Context, project_id: str, farm=None) -> dict:
    """Every shot not in the cache (on the farm, in parallel, when there is one), voices and the cut."""
    from dataclasses import asdict

    from openreels.studio import Project

    project = Project(project_dir(ctx.data, project_id))
    eta = Eta(ctx.progress)
    progress = studio_progress(eta)
    on_farm = farm.render_shots(project, progress) if farm is not None else 0
    report = asdict(project.render(progress=progress))
    # The farm filled the cache for this job: those shots were rendered by it, not taken from an earlier run.
    report["rendered"] += on_farm
    report["cached"] -= on_farm
    return {"report": report, "project_files": ["episode.mp4", "episode.srt", "storyboard.png"]}


def run_shot(request: dict, ctx: Context, project_id: str) -> dict:
    """One storyboard shot, kept in the project's shot cache (a later render reuses it) and as shot.mp4."""
    from openreels.media import write_video
    from openreels.studio import Project

    project = Project(project_dir(ctx.data, project_id))
    eta = Eta(ctx.progress)
    prepared = project.prepare(progress=studio_progress(eta))
    task = next((t for t in prepared.tasks if t.shot.id == request["shot"]), None)
    if task is None:
        raise OpenreelsError(
            f"the storyboard has no shot {request['shot']!r} any more; re-plan or pick another"
        )
    eta("shots", 0, 1, shot=task.shot.id)
    if task.path.is_file():
        with np.load(task.path) as data:
            frames = data["frames"]
        cached = True
    else:
        frames, cached = prepared.render_one(task), False
    write_video(ctx.out / "shot.mp4", frames, prepared.settings.fps)
    return {"shot": task.shot.id, "frames": int(len(frames)), "cached": cached}


def run(kind: str, request: dict, ctx: Context, project_id: str | None, farm=None) -> dict:
    """Run one job in this process; returns its result (files are listed by the caller)."""
    if kind == "generate":
        return run_generate(request, ctx)
    if kind == "compose":
        return run_compose(request, ctx)
    if kind == "animate":
        return run_animate(request, ctx)
    if kind == "plan":
        return run_plan(request, ctx, project_id)
    if kind == "render":
        return run_render(request, ctx, project_id, farm)
    if kind == "shot":
        return run_shot(request, ctx, project_id)
    raise OpenreelsError(f"unknown job kind {kind!r}")
