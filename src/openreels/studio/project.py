"""The project folder and its content-addressed cache.

    DIR/project.yaml      settings (model, size, fps, seed, TTS, transitions, subtitles) and the writer that ran
    DIR/story.txt         the story, when the project started from one
    DIR/screenplay.fountain
    DIR/cast.yaml         character sheets and voices (edit freely)
    DIR/storyboard.yaml   shots and captions (edit freely; rebuilt when the screenplay or cast changes)
    DIR/cache/            audio/, references/, shots/: one file per content key (inputs hashed)
    DIR/episode.mp4 .srt  the cut, with its storyboard.png contact sheet and cast.png

Every file is written to a temporary name and renamed, and every finished shot is kept under its key, so a
killed render loses only the shot in progress and the next run picks up from there.
"""

from __future__ import annotations

import glob
import hashlib
import json
import os
import secrets
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import yaml
from pydantic import BaseModel, ValidationError

from openreels.errors import OpenreelsError, RunError
from openreels.media.edit import assemble, burn_subtitles, contact_sheet, layout, mix, upscale
from openreels.media.subtitles import Cue, write_srt
from openreels.media.tts import TTS, get_tts, resample, resolve_tts
from openreels.media.video import PARTIAL, atomic_output, pid_alive, write_video
from openreels.studio.cast import Cast, Character, build_cast
from openreels.studio.render import (
    ReferenceRenderer,
    Settings,
    ShotRenderer,
    frames_for,
    render_reference,
    render_shot,
    render_stage_shot,
)
from openreels.studio.screenplay import Line, Screenplay, parse_fountain
from openreels.studio.storyboard import LEAD_S, TAIL_S, Shot, Storyboard, build_storyboard
from openreels.studio.writers import write_screenplay

SAMPLE_RATE = 22050  # the episode's audio rate (piper's and espeak-ng's own)
Progress = Callable[[str, int, int], None]  # (stage, done, total)


class ProjectFile(BaseModel):
    title: str = ""
    writer: str = (
        "screenplay"  # which writer made the screenplay: "screenplay" (given), "builtin", "llm:MODEL"
    )
    source: str = ""
    settings: Settings = Settings()


@dataclass
class RenderReport:
    episode: str
    subtitles: str
    contact_sheet: str
    shots: int
    rendered: int  # shots rendered in this run
    cached: int  # shots taken from the cache
    video_seconds: float
    audio_seconds: float
    seconds: float  # wall time of this run
    bytes: int
    writer: str
    tts: str
    timings: dict[str, float] = field(default_factory=dict)
    edit_key: str = ""  # hash of everything the cut depends on
    recut: bool = True  # False when nothing changed and the last episode was kept
    # How often shots show the characters in their sheet colours (openreels.eval.cast_consistency)
    cast_consistency: dict = field(default_factory=dict)


@dataclass
class ShotTask:
    """One storyboard shot as the render will make it: its frame count and where its frames are cached."""

    shot: Shot
    frames: int
    key: str
    path: Path


@dataclass
class RenderPlan:
    """What `Project.prepare` found: resolved settings, storyboard, cast, references and the shot tasks."""

    settings: Settings
    board: Storyboard
    cast: Cast
    references: dict[str, np.ndarray]
    renderer: ShotRenderer
    tasks: list[ShotTask]
    audio: dict[str, np.ndarray]  # each dialogue shot's line at SAMPLE_RATE
    timings: dict[str, float]
    started: float

    def missing(self) -> list[ShotTask]:
        """The shots not in the cache yet."""
        return [t for t in self.tasks if not t.path.is_file()]

    def check(self, task: ShotTask, frames: np.ndarray) -> np.ndarray:
        """A renderer's frames for `task`, refused unless they are its n uint8 frames."""
        frames = np.asarray(frames)
        if frames.dtype != np.uint8 or frames.ndim != 4 or len(frames) != task.frames:
            raise OpenreelsError(
                f"shot {task.shot.id}: the renderer returned {frames.shape} {frames.dtype}, "
                f"expected {task.frames} uint8 frames"
            )
        return frames

    def store(self, task: ShotTask, frames: np.ndarray) -> np.ndarray:
        """Keep a shot's checked frames under its key (atomically); a later render takes them from there."""
        frames = self.check(task, frames)
        write_video(task.path, frames, self.settings.fps)
        return frames

    def render_one(self, task: ShotTask) -> np.ndarray:
        """Render one shot with this plan's renderer and keep it in the cache."""
        return self.store(task, self.renderer(task.shot, self.cast, self.settings, self.references))


def key_of(*parts: object) -> str:
    """Content key: sha256 of the parts as canonical JSON."""
    blob = json.dumps(parts, sort_keys=True, default=str, separators=(",", ":"))
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _renderer_id(renderer: object) -> str:
    """Part of every cache key: a renderer's `cache_id` (bump it when its output changes) or its name."""
    return getattr(renderer, "cache_id", None) or getattr(
        renderer, "__qualname__", type(renderer).__qualname__
    )


def _read_yaml(path: Path) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise OpenreelsError(f"{path} is missing; create the project with `openreels drama new`") from exc
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark else ""
        raise OpenreelsError(f"{path.name}{where}: not valid YAML ({getattr(exc, 'problem', exc)})") from exc
    if not isinstance(data, dict):
        raise OpenreelsError(
            f"{path.name}: expected a mapping at the top; restore it or delete it and re-plan"
        )
    return data


def _validated(model: type[BaseModel], data: dict, path: Path) -> BaseModel:
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(p) for p in err["loc"])
        raise OpenreelsError(f"{path.name}: {where}: {err['msg']}; fix the value and run again") from exc


def _write_yaml(path: Path, data: dict) -> None:
    with atomic_output(path) as tmp:
        tmp.write_text(yaml.safe_dump(data, sort_keys=False, allow_unicode=True, width=110), encoding="utf-8")


class Project:
    """A drama project folder."""

    def __init__(self, root: str | Path, tts: TTS | None = None) -> None:
        self.root = Path(root)
        self._tts = tts  # a TTS object to use instead of settings.tts (tests, custom voices)
        self.tts_used: set[str] = set()  # TTS backends that voiced lines through this object
        if not (self.root / "project.yaml").is_file():
            raise OpenreelsError(
                f"{self.root} is not a drama project; run `openreels drama new {self.root} --from FILE`"
            )
        self.meta: ProjectFile = _validated(
            ProjectFile, _read_yaml(self.path("project.yaml")), self.path("project.yaml")
        )

    def path(self, name: str) -> Path:
        return self.root / name

    @property
    def settings(self) -> Settings:
        return self.meta.settings

    def save_meta(self) -> None:
        _write_yaml(self.path("project.yaml"), self.meta.model_dump(mode="json"))

    def screenplay(self) -> Screenplay:
        path = self.path("screenplay.fountain")
        if not path.is_file():
            raise OpenreelsError(f"{path} is missing; restore it or create the project again")
        return parse_fountain(path.read_text(encoding="utf-8"), source=path.name)

    def cast(self, screenplay: Screenplay) -> Cast:
        """The cast file merged with the screenplay: new speakers get sheets, edited sheets are kept."""
        path = self.path("cast.yaml")
        existing = _validated(Cast, _read_yaml(path), path) if path.is_file() else None
        cast = build_cast(screenplay, existing)
        if existing is None or cast != existing:
            _write_yaml(path, cast.model_dump(mode="json"))
        return cast

    # --- cache -------------------------------------------------------------------------------------------
    def cached(self, kind: str, key: str, suffix: str) -> Path:
        return self.root / "cache" / kind / f"{key}{suffix}"

    def clean_partials(self) -> int:
        """Remove temporary files a killed run left behind (they never carry a final name)."""
        stale = list(self.root.glob("**/.*.partial*"))
        for path in stale:
            path.unlink(missing_ok=True)
        return len(stale)

    def _audio_key(self, text: str, character: Character, tts_name: str) -> tuple[str, str]:
        """(TTS backend, cache key) of a line, without loading the TTS."""
        backend = self._tts.name if self._tts else resolve_tts(tts_name)
        return backend, key_of("line", text, character.voice.model_dump(), backend)

    def line_audio(self, text: str, character: Character, tts_name: str) -> np.ndarray:
        """A line's speech at SAMPLE_RATE, synthesised once per (text, voice, TTS)."""
        backend, key = self._audio_key(text, character, tts_name)
        path = self.cached("audio", key, ".npz")
        self.tts_used.add(backend)
        if path.is_file():
            with np.load(path) as data:
                return data["samples"]
        tts = self._tts or get_tts(backend if backend != "none" else tts_name)
        samples = resample(tts.synthesize(text, character.voice.voice()), tts.sample_rate, SAMPLE_RATE)
        samples = (0.8 * samples / max(1e-6, float(np.abs(samples).max()))).astype(np.float32)
        with atomic_output(path) as tmp, open(tmp, "wb") as fh:
            np.savez(fh, samples=samples)
        return samples

    # --- plan --------------------------------------------------------------------------------------------
    def plan(
        self, force: bool = False, tts_name: str | None = None, progress: Progress | None = None
    ) -> Storyboard:
        """Cast and storyboard from the screenplay. An existing storyboard.yaml (perhaps edited) is kept
        while the screenplay and cast it was built from are unchanged, unless `force`."""
        screenplay = self.screenplay()
        cast = self.cast(screenplay)
        source_key = key_of(self.path("screenplay.fountain").read_text(encoding="utf-8"), cast.model_dump())
        path = self.path("storyboard.yaml")
        if path.is_file() and not force:
            board = _validated(Storyboard, _read_yaml(path), path)
            if board.screenplay_sha == source_key:
                return board
        tts_name = tts_name or self.settings.tts
        lines = [ln for s in screenplay.scenes for ln in s.lines]
        seconds: dict[int, float] = {}
        for i, line in enumerate(lines):
            if progress:
                progress("voices", i, len(lines))
            seconds[line.line_number] = (
                len(self.line_audio(line.text, cast.get(line.character), tts_name)) / SAMPLE_RATE
            )
        if progress:
            progress("voices", len(lines), len(lines))

        def line_seconds(line: Line) -> float:
            return seconds[line.line_number]

        board = build_storyboard(screenplay, cast, line_seconds, self.settings.seed, source_key)
        if path.is_file():
            with atomic_output(self.path("storyboard.yaml.bak")) as tmp:
                tmp.write_bytes(path.read_bytes())
        _write_yaml(path, board.model_dump(mode="json"))
        self.meta.title = screenplay.title
        self.save_meta()
        return board

    # --- render ------------------------------------------------------------------------------------------
    @staticmethod
    def shot_key(shot: Shot, s: Settings, renderer_id: str, ref_keys: dict[str, str]) -> str:
        """Everything a shot's frames depend on; its dialogue, transition and place in the edit are not."""
        inputs = shot.model_dump(exclude={"dialogue", "transition", "source_line"})
        inputs["prompt"] = shot.prompt
        names = [sub.name for sub in shot.caption.subjects]
        return key_of(
            "shot",
            inputs,
            {n: ref_keys.get(n, "") for n in names},
            s.model, list(s.size), s.fps, s.window, s.steps, s.guidance, s.consistency,
            s.compose_model if s.consistency == "compose" else None, renderer_id,
        )  # fmt: skip

    def prepare(
        self,
        shot_renderer: ShotRenderer | None = None,
        reference_renderer: ReferenceRenderer = render_reference,
        progress: Progress | None = None,
    ) -> RenderPlan:
        """Plan, cast, references and every shot's cache key: what `render` will do, without rendering a
        shot (a render farm takes `missing()` from here and fills the cache in parallel)."""
        t_start = time.perf_counter()
        s = self.settings.resolve()
        if shot_renderer is None:
            shot_renderer = render_stage_shot if s.renderer == "stage" else render_shot
        self.clean_partials()
        board = self.plan(progress=progress)
        screenplay = self.screenplay()
        cast = self.cast(screenplay)
        timings = {"plan": time.perf_counter() - t_start}

        t0 = time.perf_counter()
        references: dict[str, np.ndarray] = {}
        ref_keys: dict[str, str] = {}
        ref_id = _renderer_id(reference_renderer)
        for character in cast.characters:
            key = key_of(
                "reference", character.model_dump(exclude={"voice"}), s.model, list(s.size), s.seed, ref_id
            )
            path = self.cached("references", key, ".npz")
            if not path.is_file():
                image = np.asarray(reference_renderer(character, s), dtype=np.uint8)
                with atomic_output(path) as tmp, open(tmp, "wb") as fh:
                    np.savez(fh, image=image)
            with np.load(path) as data:
                references[character.name] = data["image"]
            ref_keys[character.name] = key
        timings["references"] = time.perf_counter() - t0

        renderer_id = _renderer_id(shot_renderer)
        tasks: list[ShotTask] = []
        audio: dict[str, np.ndarray] = {}
        for shot in board.shots:
            n = frames_for(shot.duration, s.fps)
            if shot.dialogue:
                speaker = cast.get(shot.dialogue.character)
                audio[shot.id] = self.line_audio(shot.dialogue.text, speaker, s.tts)
                # An edited line may now be longer than its shot: the shot grows to fit it.
                need = LEAD_S + len(audio[shot.id]) / SAMPLE_RATE + TAIL_S
                if need > shot.duration + 1e-6:
                    shot = shot.model_copy(update={"duration": round(need, 3)})
                    n = frames_for(shot.duration, s.fps)
            key = self.shot_key(shot, s, renderer_id, ref_keys)
            tasks.append(ShotTask(shot, n, key, self.cached("shots", key, ".npz")))
        return RenderPlan(s, board, cast, references, shot_renderer, tasks, audio, timings, t_start)

    def render(
        self,
        shot_renderer: ShotRenderer | None = None,
        reference_renderer: ReferenceRenderer = render_reference,
        progress: Progress | None = None,
    ) -> RenderReport:
        """Render every shot not in the cache, then cut the episode with its audio and subtitles.
        The shot renderer defaults to the settings' choice: the video model, or the stage (an animatic)."""
        prepared = self.prepare(shot_renderer, reference_renderer, progress)
        s, board, cast, references = prepared.settings, prepared.board, prepared.cast, prepared.references
        audio, timings, t_start = prepared.audio, prepared.timings, prepared.started
        renderer_id = _renderer_id(prepared.renderer)
        t0 = time.perf_counter()
        clips: list[np.ndarray] = []
        edit_inputs: list = [s.model_dump(mode="json"), board.fade_out, board.title, self.meta.writer]
        rendered = 0
        for i, task in enumerate(prepared.tasks):
            if progress:
                progress("shots", i, len(prepared.tasks))
            shot = task.shot
            edit_inputs.append(
                [
                    task.key,
                    shot.transition,
                    shot.dialogue and shot.dialogue.model_dump(),
                    len(audio.get(shot.id, ())),
                ]
            )
            if task.path.is_file():
                with np.load(task.path) as data:
                    frames = data["frames"]
            else:
                frames = prepared.render_one(task)
                rendered += 1
            clips.append(frames)
        if progress:
            progress("shots", len(board.shots), len(board.shots))
        timings["shots"] = time.perf_counter() - t0

        t0 = time.perf_counter()
        edit_key = key_of("edit", edit_inputs)
        last = self._last_report()
        outputs = [self.path(n) for n in ("episode.mp4", "episode.srt", "storyboard.png")]
        if last.get("edit_key") == edit_key and all(p.is_file() for p in outputs):
            # Nothing the cut depends on changed: keep the episode rather than encode it again.
            last.update(rendered=rendered, cached=len(board.shots) - rendered, recut=False)
            last.update(
                seconds=time.perf_counter() - t_start, timings={k: round(v, 2) for k, v in timings.items()}
            )
            return self._save_report(RenderReport(**last))
        transitions = [sh.transition for sh in board.shots]
        overlap, fade = round(s.crossfade * s.fps), round(s.fade * s.fps)
        frames = assemble(clips, transitions, overlap, fade=fade, fade_out=board.fade_out)
        starts, total = layout([len(c) for c in clips], transitions, overlap)
        total_samples = round(total / s.fps * SAMPLE_RATE)
        events, cues = [], []
        for shot, start in zip(board.shots, starts, strict=True):
            if shot.id in audio:
                at = start / s.fps + LEAD_S
                events.append((at, audio[shot.id]))
                cues.append(Cue(at, at + len(audio[shot.id]) / SAMPLE_RATE, self._cue_text(shot)))
        track = mix(events, total_samples, SAMPLE_RATE)
        frames = upscale(frames, s.scale)
        if s.burn_subtitles:
            frames = burn_subtitles(frames, cues, s.fps)
        meta = {
            "title": board.title,
            "writer": self.meta.writer,
            "renderer": renderer_id,
            "settings": s.model_dump(mode="json"),
        }
        episode = write_video(
            self.path("episode.mp4"), frames, s.fps, metadata=meta, audio=(track, SAMPLE_RATE)
        )
        srt_path = write_srt(self.path("episode.srt"), cues)
        sheet_path = self._contact_sheets(board, clips, cast, references)
        timings["edit"] = time.perf_counter() - t0
        from openreels.eval import cast_consistency

        t0 = time.perf_counter()
        looks = cast_consistency(clips, [shot.caption.world() for shot in board.shots], s.fps)
        timings["measure"] = time.perf_counter() - t0

        report = RenderReport(
            episode=str(episode),
            subtitles=str(srt_path),
            contact_sheet=str(sheet_path),
            shots=len(board.shots),
            rendered=rendered,
            cached=len(board.shots) - rendered,
            video_seconds=total / s.fps,
            audio_seconds=total_samples / SAMPLE_RATE,
            seconds=time.perf_counter() - t_start,
            bytes=episode.stat().st_size,
            writer=self.meta.writer,
            tts=",".join(sorted(self.tts_used)) or "none",
            timings={k: round(v, 2) for k, v in timings.items()},
            edit_key=edit_key,
            cast_consistency=looks,
        )
        return self._save_report(report)

    def _last_report(self) -> dict:
        try:
            return json.loads(self.path("render.json").read_text())
        except (OSError, ValueError):
            return {}

    def _save_report(self, report: RenderReport) -> RenderReport:
        with atomic_output(self.path("render.json")) as tmp:
            tmp.write_text(json.dumps(asdict(report), indent=2) + "\n")
        return report

    @staticmethod
    def _cue_text(shot: Shot) -> str:
        d = shot.dialogue
        return f"{d.character}: {d.text}" if d else ""

    def _contact_sheets(self, board: Storyboard, clips, cast: Cast, references) -> Path:
        from PIL import Image

        zoom = max(1, -(-192 // clips[0].shape[2]))  # thumbnails at least 192 px wide, whatever the shot size
        thumbs = [upscale(clip[len(clip) // 2 : len(clip) // 2 + 1], zoom)[0] for clip in clips]
        labels = []
        for shot in board.shots:
            c = shot.caption
            label = f"{shot.id} {shot.duration:.1f}s {c.shot_type}, {c.shot_angle}, {c.camera_motion}"
            if shot.dialogue:
                label += f' - {shot.dialogue.character}: "{shot.dialogue.text}"'
            labels.append(label)
        sheet = self.path("storyboard.png")
        with atomic_output(sheet) as tmp:
            Image.fromarray(contact_sheet(thumbs, labels, columns=6)).save(tmp, format="PNG")
        portraits = [upscale(references[c.name][None], zoom)[0] for c in cast.characters]
        names = [
            f"{c.name}: {c.description or c.phrase()}; voice pitch {c.voice.pitch} rate {c.voice.rate}"
            for c in cast.characters
        ]
        if not portraits:  # nobody speaks: there is no cast to draw
            return sheet
        with atomic_output(self.path("cast.png")) as tmp:
            Image.fromarray(contact_sheet(portraits, names, columns=max(1, len(portraits)))).save(
                tmp, format="PNG"
            )
        return sheet

    # --- status ------------------------------------------------------------------------------------------
    def status(self) -> dict:
        """What is planned, what is rendered and whether the episode is current (no rendering, no TTS)."""
        info: dict = {"project": str(self.root), "title": self.meta.title, "writer": self.meta.writer}
        path = self.path("storyboard.yaml")
        board = _validated(Storyboard, _read_yaml(path), path) if path.is_file() else None
        info["planned"] = board is not None
        info["shots"] = len(board.shots) if board else 0
        shots_dir = self.root / "cache" / "shots"
        info["cached_shot_files"] = len(list(shots_dir.glob("*.npz"))) if shots_dir.is_dir() else 0
        report = self.path("render.json")
        info["episode"] = str(self.path("episode.mp4")) if self.path("episode.mp4").is_file() else None
        if report.is_file() and info["episode"]:
            last = json.loads(report.read_text())
            info["last_render"] = {
                k: last[k] for k in ("seconds", "rendered", "cached", "video_seconds", "bytes", "tts")
            }
            newest_input = max(
                self.path(n).stat().st_mtime
                for n in ("project.yaml", "screenplay.fountain", "cast.yaml", "storyboard.yaml")
                if self.path(n).is_file()
            )
            info["episode_current"] = self.path("episode.mp4").stat().st_mtime >= newest_input
        return info


def _clean_stale_builds(parent: Path, name: str) -> None:
    """Remove the half-built project folders of earlier `drama new` runs that were killed."""
    prefix = f".{name}{PARTIAL}"
    for entry in parent.glob(f".{glob.escape(name)}{PARTIAL}*"):
        pid = entry.name[len(prefix) :].split("-", 1)[0]
        if entry.is_dir() and pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(entry, ignore_errors=True)


def new_project(
    root: str | Path, source: str | Path, writer: str = "auto", settings: Settings | None = None
) -> Project:
    """Create DIR from a .fountain screenplay or a .txt story (written into a screenplay by `writer`).

    The project is built in a hidden folder beside DIR and moved into place only when complete, so DIR
    holds a whole project or nothing of one, whatever fails or interrupts the run."""
    root, source = Path(root), Path(source)
    if (root / "project.yaml").exists():
        raise OpenreelsError(f"{root} already holds a project; use `openreels drama plan|render {root}`")
    if root.exists() and not root.is_dir():
        raise OpenreelsError(f"{root} is a file; pass a new folder for the project")
    if not source.is_file():
        raise OpenreelsError(f"{source} not found; pass a .fountain screenplay or a .txt story with --from")
    try:
        text = source.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise OpenreelsError(f"{source} is not UTF-8 text; save it as UTF-8 and run again") from exc
    story = None
    if source.suffix.lower() in (".fountain", ".spmd"):
        parse_fountain(text, source=source.name)  # fail before anything is written
        fountain, writer_name = text, "screenplay"
    elif source.suffix.lower() in (".txt", ".md", ""):
        story = text
        fountain, writer_name = write_screenplay(story, writer)
    else:
        raise OpenreelsError(f"{source.name}: use a .fountain screenplay or a .txt story")
    screenplay = parse_fountain(fountain)
    parent = root.absolute().parent
    try:
        parent.mkdir(parents=True, exist_ok=True)
        _clean_stale_builds(parent, root.name)
        build = parent / f".{root.name}{PARTIAL}{os.getpid()}-{secrets.token_hex(4)}"
        build.mkdir()
    except OSError as exc:
        raise OpenreelsError(
            f"cannot create the project in {parent}: {exc.strerror or exc}; choose another folder"
        ) from exc
    try:
        if story is not None:
            (build / "story.txt").write_text(story, encoding="utf-8")
        (build / "screenplay.fountain").write_text(fountain, encoding="utf-8")
        meta = ProjectFile(
            title=screenplay.title, writer=writer_name, source=str(source), settings=settings or Settings()
        )
        _write_yaml(build / "project.yaml", meta.model_dump(mode="json"))
        Project(build).cast(screenplay)
        _move_into(build, root)
    except OSError as exc:  # a full disk, say: the run failed, the request was fine
        raise RunError(
            f"cannot write the project {root}: {exc.strerror or exc}; nothing was created"
        ) from exc
    finally:
        shutil.rmtree(build, ignore_errors=True)
    return Project(root)


def _move_into(build: Path, root: Path) -> None:
    """Put the finished project in place: one rename for a new folder; into an existing folder (say, the
    one holding the story) file by file, refusing to overwrite and taking back the moves if one fails."""
    if not root.exists():
        os.rename(build, root)
        return
    names = sorted(p.name for p in build.iterdir())
    clash = [n for n in names if (root / n).exists()]
    if clash:
        raise OpenreelsError(f"{root} already has {clash[0]}; create the project in a new or empty folder")
    moved: list[str] = []
    try:
        for name in names:
            os.rename(build / name, root / name)
            moved.append(name)
    except BaseException:
        for name in moved:
            os.rename(root / name, build / name)
        raise
