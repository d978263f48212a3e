"""The HTTP API (FastAPI): `/api/v1/...`, documented route by route in docs/serve.md; the OpenAPI page is at
/api/v1/docs. The path `/` is the web studio's pages (openreels.serve.web)."""

from __future__ import annotations

import asyncio
import importlib
import json
import logging
import re
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from fastapi import Depends, FastAPI, File, Form, Header, HTTPException, Query, Request, UploadFile
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response, StreamingResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openreels import __version__
from openreels.errors import OpenreelsError
from openreels.serve import jobs
from openreels.serve.store import FINAL, STATES, Job, ProjectRow, Store, Token, Upload, new_id
from openreels.serve.uploads import TooLarge, Unreadable, inspect
from openreels.serve.workers import content_type

log = logging.getLogger("openreels.serve")
API = "/api/v1"
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")  # a result file's name; never a path
PROJECT_FILES = ("episode.mp4", "episode.srt", "storyboard.png", "cast.png", "render.json")
SSE_POLL_S = 0.25
SSE_KEEPALIVE_S = 15.0


@dataclass
class Limits:
    max_body: int = 1 << 20  # bytes of a JSON body
    max_upload: int = 50 << 20  # bytes of an upload
    max_pixels: int = 4096 * 4096  # per image or video frame
    max_frames: int = 600  # per uploaded video


class ApiError(HTTPException):
    """An error answered as {"error": message} with its status."""


def _error(status: int, message: str) -> JSONResponse:
    return JSONResponse({"error": message}, status_code=status)


class BodyLimit:
    """Refuses request bodies over the limit (413) before they are read whole; uploads get their own limit.
    Hand-written because Starlette has no body cap; it counts bytes as they arrive, so a missing or false
    Content-Length does not get around it."""

    def __init__(self, app, limits: Limits) -> None:
        self.app, self.limits = app, limits

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        limit = self.limits.max_upload + (64 << 10)  # multipart framing around the file
        if not (scope["path"] == f"{API}/uploads" or scope["path"] == f"{API}/projects/fountain"):
            limit = self.limits.max_body
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > limit:
            return await _error(413, f"the request body is over {limit} bytes")(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > limit:
                raise ApiError(413, f"the request body is over {limit} bytes")
            return message

        try:
            await self.app(scope, counted, send)
        except ApiError as exc:
            await _error(exc.status_code, exc.detail)(scope, receive, send)


class ProjectBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field("", max_length=200)
    story: str | None = Field(None, max_length=jobs.STORY_CHARS)
    fountain: str | None = Field(None, max_length=jobs.STORY_CHARS)
    writer: str = Field("auto", pattern="^(auto|builtin|llm)$")
    settings: dict[str, Any] = Field(default_factory=dict)


class ScriptBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fountain: str = Field(max_length=jobs.STORY_CHARS)


class PlanBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    force: bool = False


def job_json(job: Job) -> dict:
    return {
        "id": job.id,
        "kind": job.kind,
        "state": job.state,
        "attempts": job.attempts,
        "project": job.project_id,
        "created_at": job.created_at,
        "started_at": job.started_at,
        "finished_at": job.finished_at,
        "request": job.request,
        "progress": job.progress if job.state == "running" else None,
        "result": job.result,
        "error": job.error,
    }


def create_app(
    data: str | Path,
    workers: int = 2,
    farm: str | None = None,
    limits: Limits | None = None,
    task_gpus: float = 0,
) -> FastAPI:
    """The app over the data folder. `workers` worker processes (0: none, the tests run jobs themselves);
    `farm`: None for the embedded pool, else a Ray address ("ray" or "auto": the local cluster)."""
    data = Path(data)
    limits = limits or Limits()
    store = Store(data)
    state: dict[str, Any] = {}

    @asynccontextmanager
    async def lifespan(_app: FastAPI):
        from openreels.serve.workers import FarmPool, Pool

        # Checking a request imports the pipelines (torch, diffusers): once, before the server reports ready
        # (`openreels.pipelines` itself loads its names on first use, so import the module that has them).
        await run_in_threadpool(importlib.import_module, "openreels.pipelines.tasks")
        requeued = store.requeue_running()  # no worker of ours runs yet: these were cut off by a crash
        if requeued:
            log.warning("%d job(s) were running when the server stopped; they are queued again", requeued)
        pool = None
        if workers and farm:
            from openreels.serve.farm import RayFarm

            address = "auto" if farm in ("ray", "auto") else farm
            pool = FarmPool(store, workers, RayFarm(address, task_gpus=task_gpus))
        elif workers:
            pool = Pool(store, workers)
        if pool:
            pool.start()
        state["pool"] = pool
        yield
        if pool:
            pool.stop()

    app = FastAPI(
        title="openreels serve",
        version=__version__,
        docs_url=f"{API}/docs",
        openapi_url=f"{API}/openapi.json",
        redoc_url=None,
        lifespan=lifespan,
    )
    app.state.store = store
    app.state.data = data

    # --- errors: always {"error": one line}, never a traceback -------------------------------------------
    @app.exception_handler(HTTPException)
    async def _http(_req, exc: HTTPException):
        return _error(exc.status_code, str(exc.detail))

    @app.exception_handler(RequestValidationError)
    async def _invalid(_req, exc: RequestValidationError):
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        return _error(422, f"{where}: {err.get('msg')}" if where else str(err.get("msg")))

    @app.exception_handler(OpenreelsError)
    async def _user(_req, exc: OpenreelsError):
        return _error(422, str(exc))

    @app.exception_handler(Exception)
    async def _internal(_req, exc: Exception):
        log.exception("internal error", exc_info=exc)
        return _error(500, "internal error; see the server log")

    # --- auth --------------------------------------------------------------------------------------------
    def auth(request: Request) -> Token:
        header = request.headers.get("authorization", "")
        secret = header[7:].strip() if header[:7].lower() == "bearer " else ""
        if not secret and request.method == "GET":
            secret = request.query_params.get("access_token", "")
        if not secret:
            raise ApiError(
                401, "send 'Authorization: Bearer TOKEN' (make one: openreels serve token create NAME)"
            )
        token = store.token_for(secret)
        if token is None:
            raise ApiError(401, "unknown token; make one with `openreels serve token create NAME`")
        return token

    def owned_job(job_id: str, token: Token) -> Job:
        job = store.job(job_id, token.id) if job_id.isalnum() else None
        if job is None:
            raise ApiError(404, f"no job {job_id}")
        return job

    def owned_project(project_id: str, token: Token) -> ProjectRow:
        row = store.owned(ProjectRow, project_id, token.id) if project_id.isalnum() else None
        if row is None:
            raise ApiError(404, f"no project {project_id}")
        return row

    def upload_path(token: Token):
        def path(upload_id: str) -> Path:
            row = store.owned(Upload, upload_id, token.id) if upload_id.isalnum() else None
            if row is None:
                raise ApiError(404, f"no upload {upload_id}")
            return data / "uploads" / row.id

        return path

    def submit(
        token: Token, kind: str, request: dict, key: str | None, project_id: str | None = None
    ) -> JSONResponse:
        if key is not None and not 1 <= len(key) <= 128:
            raise ApiError(400, "an Idempotency-Key is 1-128 characters")
        try:
            job, created = store.submit(token.id, kind, request, key, project_id)
        except OpenreelsError as exc:
            raise ApiError(409, str(exc)) from None
        return JSONResponse(job_json(job), status_code=202 if created else 200)

    # --- misc --------------------------------------------------------------------------------------------
    @app.get(f"{API}/health")
    def health() -> dict:
        return {
            "status": "ok",
            "version": __version__,
            "farm": "ray" if farm else "local",
            "workers": workers,
        }

    @app.get(f"{API}/me")
    def me(token: Token = Depends(auth)) -> dict:
        return {"name": token.name}

    # --- uploads -----------------------------------------------------------------------------------------
    def upload_json(row: Upload) -> dict:
        return {
            "id": row.id,
            "kind": row.kind,
            "content_type": row.content_type,
            "bytes": row.bytes,
            "width": row.width,
            "height": row.height,
            "frames": row.frames,
        }

    @app.post(f"{API}/uploads", status_code=201)
    def upload(file: UploadFile = File(...), token: Token = Depends(auth)) -> dict:
        upload_id = new_id()
        folder = data / "uploads"
        folder.mkdir(parents=True, exist_ok=True)
        tmp = folder / f".{upload_id}.partial"
        try:
            size = 0
            with open(tmp, "wb") as fh:
                while chunk := file.file.read(1 << 20):
                    size += len(chunk)
                    if size > limits.max_upload:
                        raise ApiError(413, f"the upload is over {limits.max_upload} bytes")
                    fh.write(chunk)
            if size == 0:
                raise ApiError(415, "the upload is empty; send an image or a video")
            try:
                info = inspect(tmp, limits.max_pixels, limits.max_frames)
            except TooLarge as exc:
                raise ApiError(413, str(exc)) from None
            except Unreadable as exc:
                raise ApiError(415, str(exc)) from None
            tmp.replace(folder / upload_id)
        finally:
            tmp.unlink(missing_ok=True)
        row = Upload(id=upload_id, token_id=token.id, bytes=size, created_at=time.time(), **info)
        store.add(row)
        return upload_json(row)

    @app.get(f"{API}/uploads/{{upload_id}}")
    def get_upload(upload_id: str, token: Token = Depends(auth)) -> dict:
        upload_path(token)(upload_id)
        return upload_json(store.owned(Upload, upload_id, token.id))

    # --- single jobs -------------------------------------------------------------------------------------
    @app.post(f"{API}/jobs/generate", status_code=202)
    def generate(
        body: jobs.GenerateBody,
        token: Token = Depends(auth),
        idempotency_key: str | None = Header(None),
    ) -> JSONResponse:
        jobs.generate_request(body, upload_path(token))
        return submit(token, "generate", body.model_dump(exclude_none=True), idempotency_key)

    @app.post(f"{API}/jobs/compose", status_code=202)
    def compose(
        body: jobs.ComposeBody, token: Token = Depends(auth), idempotency_key: str | None = Header(None)
    ) -> JSONResponse:
        jobs.check_compose(body, upload_path(token))
        return submit(token, "compose", body.model_dump(exclude_none=True), idempotency_key)

    @app.post(f"{API}/jobs/animate", status_code=202)
    def animate(
        body: jobs.AnimateBody, token: Token = Depends(auth), idempotency_key: str | None = Header(None)
    ) -> JSONResponse:
        paths = upload_path(token)
        for upload_id, kind in ((body.image, "image"), (body.driving, "video")):
            paths(upload_id)
            if store.owned(Upload, upload_id, token.id).kind != kind:
                raise ApiError(
                    422, f"upload {upload_id} is not an {kind}; animate takes an image and a video"
                )
        return submit(token, "animate", body.model_dump(exclude_none=True), idempotency_key)

    @app.get(f"{API}/jobs")
    def list_jobs(
        state: str | None = Query(None),
        limit: int = Query(100, ge=1, le=500),
        token: Token = Depends(auth),
    ) -> dict:
        if state is not None and state not in STATES:
            raise ApiError(422, f"state is one of {', '.join(STATES)}")
        return {"jobs": [job_json(j) for j in store.jobs(token.id, state, limit)]}

    @app.get(f"{API}/jobs/{{job_id}}")
    def get_job(job_id: str, token: Token = Depends(auth)) -> dict:
        return job_json(owned_job(job_id, token))

    @app.post(f"{API}/jobs/{{job_id}}/cancel")
    def cancel_job(job_id: str, token: Token = Depends(auth)) -> dict:
        owned_job(job_id, token)
        store.cancel(job_id)
        return job_json(store.job(job_id))

    @app.get(f"{API}/jobs/{{job_id}}/events")
    async def job_events(job_id: str, token: Token = Depends(auth)) -> StreamingResponse:
        await run_in_threadpool(owned_job, job_id, token)

        async def stream():
            last, quiet_since = None, time.monotonic()
            while True:
                job = await run_in_threadpool(store.job, job_id)
                body = json.dumps(job_json(job))
                if job.state in FINAL:
                    yield f"event: {job.state}\ndata: {body}\n\n"
                    return
                if body != last:
                    yield f"event: progress\ndata: {body}\n\n"
                    last, quiet_since = body, time.monotonic()
                elif time.monotonic() - quiet_since > SSE_KEEPALIVE_S:
                    yield ": keep-alive\n\n"
                    quiet_since = time.monotonic()
                await asyncio.sleep(SSE_POLL_S)

        # Server-sent events are a plain text format over a streaming response; no extra library needed.
        headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
        return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)

    def send_file(path: Path, name: str) -> FileResponse:
        # FileResponse answers Range requests (206) itself.
        return FileResponse(
            path, media_type=content_type(name), filename=name, content_disposition_type="inline"
        )

    @app.get(f"{API}/jobs/{{job_id}}/files/{{name}}")
    def job_file(job_id: str, name: str, token: Token = Depends(auth)) -> FileResponse:
        job = owned_job(job_id, token)
        listed = {f["name"] for f in (job.result or {}).get("files", [])}
        if job.kind == "render" or not NAME.match(name) or name not in listed:
            raise ApiError(404, f"job {job_id} has no file {name}")
        return send_file(data / "jobs" / job.id / name, name)

    # --- drama projects ----------------------------------------------------------------------------------
    def studio_project(row: ProjectRow):
        from openreels.studio import Project

        return Project(jobs.project_dir(data, row.id))

    def project_json(row: ProjectRow) -> dict:
        project = studio_project(row)
        info = project.status()
        return {
            "id": row.id,
            "name": row.name,
            "title": project.meta.title,
            "created_at": row.created_at,
            "settings": project.settings.model_dump(mode="json"),
            "planned": info["planned"],
            "shots": info["shots"],
            "episode": info["episode"] is not None,
            "episode_current": info.get("episode_current"),
            "last_render": info.get("last_render"),
        }

    def settings_of(fields: dict):
        from openreels.studio import Settings

        return Settings.checked(**fields)

    def create_project(token: Token, name: str, text: str, suffix: str, writer: str, settings: dict) -> dict:
        from openreels.studio import new_project

        checked = settings_of(settings)
        project_id = new_id()
        scratch = data / "tmp"
        scratch.mkdir(parents=True, exist_ok=True)
        source = scratch / f"{project_id}{suffix}"
        root = jobs.project_dir(data, project_id)
        try:
            source.write_text(text, encoding="utf-8")
            new_project(root, source, writer, checked)
        except BaseException:
            import shutil

            shutil.rmtree(root, ignore_errors=True)  # nothing half-made stays behind
            raise
        finally:
            source.unlink(missing_ok=True)
        row = ProjectRow(id=project_id, token_id=token.id, name=name or "untitled", created_at=time.time())
        store.add(row)
        return project_json(row)

    @app.post(f"{API}/projects", status_code=201)
    def new_project_route(body: ProjectBody, token: Token = Depends(auth)) -> dict:
        if (body.story is None) == (body.fountain is None):
            raise ApiError(422, "send exactly one of 'story' (a text) or 'fountain' (a screenplay)")
        text, suffix = (body.story, ".txt") if body.story is not None else (body.fountain, ".fountain")
        if not text.strip():
            raise ApiError(422, "the story or screenplay is empty")
        return create_project(token, body.name, text, suffix, body.writer, body.settings)

    @app.post(f"{API}/projects/fountain", status_code=201)
    def new_project_upload(
        file: UploadFile = File(...),
        name: str = Form("", max_length=200),
        settings: str = Form("{}", max_length=10_000),
        token: Token = Depends(auth),
    ) -> dict:
        raw = file.file.read(jobs.STORY_CHARS * 4 + 1)
        if len(raw) > jobs.STORY_CHARS * 4:
            raise ApiError(413, "the screenplay is too long")
        try:
            text = raw.decode("utf-8")
            fields = json.loads(settings)
        except UnicodeDecodeError:
            raise ApiError(
                415, "the screenplay is not UTF-8 text; save it as a UTF-8 .fountain file"
            ) from None
        except ValueError:
            raise ApiError(422, "settings must be a JSON object") from None
        if not isinstance(fields, dict):
            raise ApiError(422, "settings must be a JSON object")
        return create_project(
            token, name or Path(file.filename or "").stem[:200], text, ".fountain", "auto", fields
        )

    @app.get(f"{API}/projects")
    def list_projects(token: Token = Depends(auth)) -> dict:
        return {"projects": [project_json(r) for r in store.projects(token.id)]}

    @app.get(f"{API}/projects/{{project_id}}")
    def get_project(project_id: str, token: Token = Depends(auth)) -> dict:
        return project_json(owned_project(project_id, token))

    @app.patch(f"{API}/projects/{{project_id}}/settings")
    def patch_settings(project_id: str, fields: dict[str, Any], token: Token = Depends(auth)) -> dict:
        row = owned_project(project_id, token)
        project = studio_project(row)
        project.meta.settings = settings_of(project.settings.model_dump() | fields)
        project.save_meta()
        return project_json(row)

    @app.get(f"{API}/projects/{{project_id}}/script")
    def get_script(project_id: str, token: Token = Depends(auth)) -> dict:
        project = studio_project(owned_project(project_id, token))
        return {"fountain": project.path("screenplay.fountain").read_text(encoding="utf-8")}

    @app.put(f"{API}/projects/{{project_id}}/script")
    def put_script(project_id: str, body: ScriptBody, token: Token = Depends(auth)) -> dict:
        from openreels.media.video import atomic_output
        from openreels.studio import parse_fountain

        project = studio_project(owned_project(project_id, token))
        screenplay = parse_fountain(body.fountain, source="screenplay")  # refuse before writing
        with atomic_output(project.path("screenplay.fountain")) as tmp:
            tmp.write_text(body.fountain, encoding="utf-8")
        project.cast(screenplay)  # new speakers get sheets
        return {"fountain": body.fountain}

    def cast_json(project_id: str, cast) -> dict:
        out = cast.model_dump(mode="json")
        for c in out["characters"]:
            c["reference_url"] = f"{API}/projects/{project_id}/cast/{c['name']}/reference.png"
        return out

    @app.get(f"{API}/projects/{{project_id}}/cast")
    def get_cast(project_id: str, token: Token = Depends(auth)) -> dict:
        project = studio_project(owned_project(project_id, token))
        return cast_json(project_id, project.cast(project.screenplay()))

    @app.put(f"{API}/projects/{{project_id}}/cast")
    def put_cast(project_id: str, body: dict[str, Any], token: Token = Depends(auth)) -> dict:
        from openreels.media.video import atomic_output
        from openreels.studio import Cast

        project = studio_project(owned_project(project_id, token))
        for c in body.get("characters", []) if isinstance(body.get("characters"), list) else []:
            if isinstance(c, dict):
                c.pop("reference_url", None)
        try:
            cast = Cast.model_validate(body)
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ApiError(422, f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
        with atomic_output(project.path("cast.yaml")) as tmp:
            tmp.write_text(yaml.safe_dump(cast.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
        return cast_json(project_id, project.cast(project.screenplay()))

    @app.get(f"{API}/projects/{{project_id}}/cast/{{name}}/reference.png")
    def cast_reference(project_id: str, name: str, token: Token = Depends(auth)) -> Response:
        import io

        from PIL import Image

        from openreels.studio import render_reference

        project = studio_project(owned_project(project_id, token))
        cast = project.cast(project.screenplay())
        if name not in cast.names:
            raise ApiError(404, f"no character {name} in the cast")
        image = render_reference(cast.get(name), project.settings.resolve())
        buf = io.BytesIO()
        Image.fromarray(image).save(buf, format="PNG")
        return Response(buf.getvalue(), media_type="image/png")

    @app.post(f"{API}/projects/{{project_id}}/plan", status_code=202)
    def plan_project(
        project_id: str,
        body: PlanBody | None = None,
        token: Token = Depends(auth),
        idempotency_key: str | None = Header(None),
    ) -> JSONResponse:
        owned_project(project_id, token)
        request = {"force": bool(body and body.force)}
        return submit(token, "plan", request, idempotency_key, project_id)

    def storyboard_of(project):
        from openreels.studio import Storyboard

        path = project.path("storyboard.yaml")
        if not path.is_file():
            raise ApiError(409, "the project is not planned yet; POST .../plan first")
        return Storyboard.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))

    @app.get(f"{API}/projects/{{project_id}}/storyboard")
    def get_storyboard(project_id: str, token: Token = Depends(auth)) -> dict:
        project = studio_project(owned_project(project_id, token))
        return storyboard_of(project).model_dump(mode="json", by_alias=True)

    @app.put(f"{API}/projects/{{project_id}}/storyboard/shots/{{shot_id}}")
    def put_shot(project_id: str, shot_id: str, body: dict[str, Any], token: Token = Depends(auth)) -> dict:
        from openreels.media.video import atomic_output
        from openreels.studio import Shot

        project = studio_project(owned_project(project_id, token))
        board = storyboard_of(project)
        index = next((i for i, s in enumerate(board.shots) if s.id == shot_id), None)
        if index is None:
            raise ApiError(404, f"no shot {shot_id} in the storyboard")
        try:
            shot = Shot.model_validate(body | {"id": shot_id})
        except ValidationError as exc:
            err = exc.errors()[0]
            raise ApiError(422, f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}") from None
        board.shots[index] = shot
        dump = board.model_dump(mode="json", by_alias=True)
        with atomic_output(project.path("storyboard.yaml")) as tmp:
            tmp.write_text(yaml.safe_dump(dump, sort_keys=False, allow_unicode=True), encoding="utf-8")
        return shot.model_dump(mode="json", by_alias=True)

    @app.post(f"{API}/projects/{{project_id}}/shots/{{shot_id}}/render", status_code=202)
    def render_one_shot(
        project_id: str,
        shot_id: str,
        token: Token = Depends(auth),
        idempotency_key: str | None = Header(None),
    ) -> JSONResponse:
        project = studio_project(owned_project(project_id, token))
        if shot_id not in {s.id for s in storyboard_of(project).shots}:
            raise ApiError(404, f"no shot {shot_id} in the storyboard")
        return submit(token, "shot", {"shot": shot_id}, idempotency_key, project_id)

    @app.post(f"{API}/projects/{{project_id}}/render", status_code=202)
    def render_project(
        project_id: str, token: Token = Depends(auth), idempotency_key: str | None = Header(None)
    ) -> JSONResponse:
        owned_project(project_id, token)
        return submit(token, "render", {}, idempotency_key, project_id)

    @app.get(f"{API}/projects/{{project_id}}/jobs")
    def project_jobs(project_id: str, token: Token = Depends(auth)) -> dict:
        owned_project(project_id, token)
        return {"jobs": [job_json(j) for j in store.jobs(token.id, limit=500) if j.project_id == project_id]}

    @app.get(f"{API}/projects/{{project_id}}/files/{{name}}")
    def project_file(project_id: str, name: str, token: Token = Depends(auth)) -> FileResponse:
        row = owned_project(project_id, token)
        path = jobs.project_dir(data, row.id) / name
        if name not in PROJECT_FILES or not path.is_file():
            raise ApiError(
                404, f"project {project_id} has no {name} yet" if name in PROJECT_FILES else f"no file {name}"
            )
        return send_file(path, name)

    from openreels.serve.web import mount_studio

    mount_studio(app, auth, owned_project, studio_project)  # the web studio's pages at /
    app.add_middleware(BodyLimit, limits=limits)
    return app
