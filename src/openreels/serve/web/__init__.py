"""The web studio: static pages (plain HTML, CSS and ES modules; no build step) served at `/` by the
`openreels serve` app, and the few read-only routes the pages need beyond docs/serve.md:

    GET /api/v1/models                                          checkpoints, with their size per aspect
    GET /api/v1/studio/choices                                  the words a cast sheet or a shot may use
    GET /api/v1/projects/{id}/script/outline                    scenes, lines and action with source lines
    GET /api/v1/projects/{id}/cast/{name}/voice.wav             the character saying their first line
    GET /api/v1/projects/{id}/storyboard/shots/{shot}/thumb.png the shot's first frame drawn by the stage

They go through the app's own token and ownership checks (another token gets 404, as everywhere)."""

from __future__ import annotations

import io
import typing
import wave
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import numpy as np
import yaml
from fastapi import Depends, FastAPI, HTTPException
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"
API = "/api/v1"


def _png(image: np.ndarray) -> Response:
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, dtype=np.uint8)).save(buf, format="PNG")
    return Response(buf.getvalue(), media_type="image/png", headers={"Cache-Control": "no-store"})


def _wav(samples: np.ndarray, rate: int) -> Response:
    pcm = (np.clip(samples, -1.0, 1.0) * 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as out:  # the standard library writes 16-bit PCM WAV; nothing more needed
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(rate)
        out.writeframes(pcm.tobytes())
    return Response(buf.getvalue(), media_type="audio/wav", headers={"Cache-Control": "no-store"})


def choices() -> dict[str, list[str]]:
    """Every enumerated field of a cast sheet or a shot, with the words it accepts."""
    from openreels.studio import vocab
    from openreels.studio.render import ASPECTS
    from openreels.studio.storyboard import Shot

    words = {
        name: list(typing.get_args(getattr(vocab, literal)))
        for name, literal in (
            ("kind", "Kind"), ("skin", "Skin"), ("hair_color", "HairColour"), ("hair_style", "HairStyle"),
            ("colour", "Colour"), ("environment", "Environment"), ("lighting", "Lighting"),
            ("expression", "Expression"), ("action", "Action"), ("position", "Position"),
            ("shot_type", "ShotType"), ("shot_angle", "ShotAngle"), ("camera_motion", "CameraMotion"),
        )
    }  # fmt: skip
    words["transition"] = list(typing.get_args(Shot.model_fields["transition"].annotation))
    words["aspect"] = list(ASPECTS)
    return words


def mount_studio(
    app: FastAPI,
    auth: Callable,
    owned_project: Callable,
    studio_project: Callable,
) -> None:
    """Serve the pages at `/` (assets under /web/) and add the pages' extra read-only routes to `app`.
    `auth`, `owned_project` and `studio_project` are the app's own dependency and lookups."""

    def project_for(project_id: str, token):
        return studio_project(owned_project(project_id, token))

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(STATIC / "index.html", headers={"Cache-Control": "no-cache"})

    app.mount("/web", StaticFiles(directory=STATIC), name="web")

    @app.get(f"{API}/models")
    def models(token=Depends(auth)) -> dict:
        from openreels.models import list_models
        from openreels.studio.render import ASPECTS, aspect_size

        return {
            "models": [
                {
                    "id": m.id,
                    "family": m.family,
                    "tasks": list(m.tasks),
                    "size": list(m.size),
                    "frames": m.frames,
                    "fps": m.fps,
                    "sizes": {a: list(aspect_size(m.size, a, m.size_multiple)) for a in ASPECTS},
                    "description": m.description,
                }
                for m in list_models()
            ]
        }

    @app.get(f"{API}/studio/choices")
    def studio_choices(token=Depends(auth)) -> dict:
        return choices()

    @app.get(f"{API}/projects/{{project_id}}/script/outline")
    def outline(project_id: str, token=Depends(auth)) -> dict:
        from openreels.studio.screenplay import Line

        screenplay = project_for(project_id, token).screenplay()
        scenes = []
        for scene in screenplay.scenes:
            beats = [asdict(b) | {"type": "line" if isinstance(b, Line) else "action"} for b in scene.beats]
            scenes.append(asdict(scene) | {"beats": beats})
        return {"title": screenplay.title, "characters": screenplay.characters, "scenes": scenes}

    @app.get(f"{API}/projects/{{project_id}}/cast/{{name}}/voice.wav")
    def voice_sample(project_id: str, name: str, token=Depends(auth)) -> Response:
        from openreels.studio.project import SAMPLE_RATE

        project = project_for(project_id, token)
        screenplay = project.screenplay()
        cast = project.cast(screenplay)
        if name not in cast.names:
            raise HTTPException(404, f"no character {name} in the cast")
        text = next((ln.text for s in screenplay.scenes for ln in s.lines if ln.character == name), None)
        # Cached like any line, so the render reuses it; a changed voice is a new cache entry.
        samples = project.line_audio(
            text or f"Hello, I am {name.title()}.", cast.get(name), project.settings.tts
        )
        return _wav(samples, SAMPLE_RATE)

    @app.get(f"{API}/projects/{{project_id}}/storyboard/shots/{{shot_id}}/thumb.png")
    def shot_thumb(project_id: str, shot_id: str, token=Depends(auth)) -> Response:
        from openreels.studio import Storyboard, render_stage_shot

        project = project_for(project_id, token)
        path = project.path("storyboard.yaml")
        if not path.is_file():
            raise HTTPException(409, "the project is not planned yet; POST .../plan first")
        board = Storyboard.model_validate(yaml.safe_load(path.read_text(encoding="utf-8")))
        shot = next((s for s in board.shots if s.id == shot_id), None)
        if shot is None:
            raise HTTPException(404, f"no shot {shot_id} in the storyboard")
        settings = project.settings.resolve()
        # The stage's first frame: what the shot shows, and the keyframe a model render starts from.
        one = shot.model_copy(update={"duration": 1 / settings.fps})
        return _png(render_stage_shot(one, project.cast(project.screenplay()), settings, {})[0])
