"""Quality probes: score a clip against the caption (or prompt) it was made from, field by field.

Two kinds of probe, both free of training and weights:
* analysis by synthesis: the stage renders what the caption says (the first frame, or the whole clip for
  actions and camera motion) once per candidate value of the field, and the candidate closest to the
  clip wins. Fields: expression, action, camera motion, shot type, position. A caption fixes every pixel
  of the stage except blink timing, so only the field under test differs between candidates.
  Camera motion works the same way over the whole clip (every motion is rendered); pan/truck and
  zoom/dolly count as the same answer when their renders are indistinguishable (nothing shows depth).
* analytic: colours are read in the regions the caption's first-frame layout assigns to the backdrop,
  a shirt, hair or an object, undoing the caption's lighting, and snapped to the nearest contract colour.
`estimate_motion` (a Lucas-Kanade fit of a global similarity motion between frames) measures camera
motion without any caption; the tests and the consistency metrics use it.

Each score is 1.0 (the clip shows what the caption says) or 0.0; fields a clip cannot show (a face under
10 pixels, hair of a bald person, a backdrop outdoors) are left out.
"""

from __future__ import annotations

import numpy as np

from openreels.errors import OpenreelsError
from openreels.world import vocab as V
from openreels.world.caption import parse_prompt, scene_from_caption
from openreels.world.renderer import render
from openreels.world.scene import Scene

PROBE_FIELDS = (
    "backdrop",
    "shirt_color",
    "hair_color",
    "expression",
    "action",
    "camera_motion",
    "shot_type",
    "position",
    "object_color",
)


def _as_caption(prompt_or_caption: str | dict) -> dict:
    if isinstance(prompt_or_caption, dict):
        return prompt_or_caption
    if not isinstance(prompt_or_caption, str) or not prompt_or_caption.strip():
        raise OpenreelsError("score_clip needs a prompt string or a caption dict")
    return parse_prompt(prompt_or_caption)


def _frames(frames: np.ndarray) -> np.ndarray:
    frames = np.asarray(frames)
    if frames.ndim != 4 or frames.shape[-1] != 3 or frames.shape[0] < 1:
        raise OpenreelsError(f"frames must be (T, H, W, 3), got shape {frames.shape}")
    h, w = frames.shape[1:3]
    if min(h, w) < 16:
        raise OpenreelsError(f"frames of {h}x{w} are too small to probe; use at least 16x16")
    if min(h, w) < 64:  # the stage renders at 64 px or more: enlarge small clips (nearest neighbour)
        k = int(np.ceil(64 / min(h, w)))
        frames = frames.repeat(k, axis=1).repeat(k, axis=2)
    return frames


def _template_scene(caption: dict) -> Scene:
    """The caption's scene with seed-chosen details fixed (seed 0); studio/room keep their colour."""
    return scene_from_caption(caption, 0)


PROBE_SIDE = 128  # clips are analysed with their short side at most this (and the long side <= 512)


def _resize_for_stage(frames: np.ndarray) -> tuple[np.ndarray, tuple[int, int]]:
    """Box-downsample big clips by a whole factor: the probes render every candidate at the clip's size,
    so this bounds their cost; 128 px keeps faces of close and medium shots readable."""
    t, h, w, _ = frames.shape
    k = max(int(np.ceil(max(h, w) / 512)), min(h, w) // PROBE_SIDE, 1)
    if k > 1:
        h2, w2 = h // k, w // k
        frames = frames[:, : h2 * k, : w2 * k].reshape(t, h2, k, w2, k, 3).mean(axis=(2, 4))
    return frames.astype(np.float32), frames.shape[1:3]


# ---- colours --------------------------------------------------------------------------------------------


def _nearest(rgb: np.ndarray, table: dict[str, tuple[int, int, int]], lighting: str) -> str:
    gain = np.asarray(V.LIGHTING_GAIN.get(lighting, (1.0, 1.0, 1.0)))
    names = list(table)
    lit = np.clip(np.array([table[n] for n in names], np.float64) * gain, 0, 255)
    return names[int(np.argmin(((lit - rgb) ** 2).sum(axis=1)))]


def _region_colour(frame: np.ndarray, mask: np.ndarray, min_pixels: int = 4) -> np.ndarray | None:
    sel = mask > 0.97
    if sel.sum() < min_pixels:
        return None
    return np.median(frame[sel], axis=0)


# ---- analysis by synthesis ------------------------------------------------------------------------------


def _blur_small(x: np.ndarray, size: int = 32) -> np.ndarray:
    """Area-downsample (..., H, W, 3) so that the longer side is about `size` (robust to detail)."""
    h, w = x.shape[-3:-1]
    k = max(1, int(round(max(h, w) / size)))
    h2, w2 = h // k, w // k
    x = x[..., : h2 * k, : w2 * k, :]
    return x.reshape(*x.shape[:-3], h2, k, w2, k, 3).mean(axis=(-4, -2))


def _pick(clip: np.ndarray, candidates: dict[str, np.ndarray], weight: np.ndarray | None = None) -> str:
    best, best_d = None, np.inf
    for name, tpl in candidates.items():
        d = (clip - tpl) ** 2
        d = float((d * weight[..., None]).sum() if weight is not None else d.sum())
        if d < best_d:
            best, best_d = name, d
    return best


def _variants(scene: Scene, field: str, values, index: int = 0):
    for v in values:
        s = scene.replace()
        if field in ("shot_type", "camera_motion", "angle"):
            setattr(s.shot, field, v)
        else:
            setattr(s.characters[index], field, v)
        yield v, s


# ---- camera motion --------------------------------------------------------------------------------------


def _gray(frames: np.ndarray) -> np.ndarray:
    from scipy.ndimage import gaussian_filter

    g = frames @ np.array([0.299, 0.587, 0.114], np.float32)
    return np.stack([gaussian_filter(f, 1.0) for f in g])


def _fit_similarity(
    a: np.ndarray, b: np.ndarray, weight: np.ndarray, iters: int = 6
) -> tuple[np.ndarray, float]:
    """Lucas-Kanade fit of b(W(x)) = a(x) with W a similarity about the centre: returns
    (tx, ty, s, r) (content moves by t pixels, grows by s, turns by r radians, clockwise on screen
    positive) and the gradient energy that supported the fit."""
    from scipy.ndimage import map_coordinates

    h, w = a.shape
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float64)
    xc, yc = xx - (w - 1) / 2, yy - (h - 1) / 2
    p = np.zeros(4)
    energy = 0.0
    for _ in range(iters):
        tx, ty, s, r = p
        wx = xx + tx + s * xc - r * yc
        wy = yy + ty + r * xc + s * yc
        bw = map_coordinates(b, [wy, wx], order=1, mode="nearest")
        gy, gx = np.gradient(bw)
        valid = (wx >= 0) & (wx <= w - 1) & (wy >= 0) & (wy <= h - 1)
        wt = weight * valid
        jac = np.stack([gx, gy, gx * xc + gy * yc, -gx * yc + gy * xc], -1).reshape(-1, 4)
        res = (bw - a).reshape(-1)
        jw = jac * wt.reshape(-1, 1)
        hess = jw.T @ jac + 1e-6 * np.eye(4)
        energy = float(hess[0, 0] + hess[1, 1]) / max(float(wt.sum()), 1.0)
        dp = np.linalg.solve(hess, -(jw.T @ res))
        p = p + dp
        if np.abs(dp).max() < 1e-3:
            break
    return p, energy  # a pixel of a reappears at W(x) in b: p is the content motion


def estimate_motion(frames: np.ndarray, weight: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """Per-step global content motion between consecutive frames: tx, ty (pixels), scale (log),
    rot (radians, clockwise on screen positive), energy (texture that supported each fit)."""
    g = _gray(np.asarray(frames, np.float32))
    h, w = g.shape[1:]
    weight = np.ones((h, w)) if weight is None else weight
    out = {k: [] for k in ("tx", "ty", "scale", "rot", "energy")}
    for t in range(len(g) - 1):
        (tx, ty, s, r), e = _fit_similarity(g[t], g[t + 1], weight)
        for k, v in zip(("tx", "ty", "scale", "rot", "energy"), (tx, ty, s, r, e), strict=True):
            out[k].append(v)
    return {k: np.asarray(v) for k, v in out.items()}


# ---- the probe ------------------------------------------------------------------------------------------


def colour_scores(frame: np.ndarray, caption: dict, scene, masks: dict[str, np.ndarray]) -> dict[str, float]:
    """backdrop, shirt_color, hair_color and object_color of one frame: each read in the region `masks` (the caption's
    layout at that frame) gives it, with the caption's lighting undone, snapped to the nearest contract colour."""
    h, w = frame.shape[:2]
    lighting = caption.get("lighting") or scene.lighting
    humans = [s for s in caption.get("subjects", []) if s.get("type") == "human"]
    scores: dict[str, float] = {}
    if caption.get("backdrop") and caption.get("environment", scene.environment) in V.BACKDROP_ENVIRONMENTS:
        covered = sum(masks.values()) if masks else np.zeros((h, w))
        c = _region_colour(frame, 1.0 - np.clip(covered, 0, 1))
        if c is not None:
            scores["backdrop"] = float(_nearest(c, V.COLORS, lighting) == caption["backdrop"])
    shirt, hair = [], []
    for i, s in enumerate(humans[: len(scene.characters)]):
        if s.get("shirt_color") and f"shirt{i}" in masks:
            c = _region_colour(frame, masks[f"shirt{i}"])
            if c is not None:
                shirt.append(_nearest(c, V.COLORS, lighting) == s["shirt_color"])
        if s.get("hair_color") and f"hair{i}" in masks:
            c = _region_colour(frame, masks[f"hair{i}"])
            if c is not None:
                hair.append(_nearest(c, V.HAIR_RGB, lighting) == s["hair_color"])
    objects = [s for s in caption.get("subjects", []) if s.get("type") == "object"]
    seen = []
    for i, s in enumerate(objects[: len(scene.objects)]):
        if s.get("color") and f"object{i}" in masks:
            c = _region_colour(frame, masks[f"object{i}"])
            if c is not None:
                seen.append(_nearest(c, V.COLORS, lighting) == s["color"])
    if seen:
        scores["object_color"] = float(np.mean(seen))
    if shirt:
        scores["shirt_color"] = float(np.mean(shirt))
    if hair:
        scores["hair_color"] = float(np.mean(hair))
    return scores


def _first_frame_layout(caption: dict, size: tuple[int, int], fps: float):
    """The caption's template scene and the region masks of its first frame."""
    scene = _template_scene(caption)
    tpl = render(scene, 1, size, fps, masks=True, caption=False)
    return scene, {k: v[0] for k, v in tpl.masks.items()}


def score_colours(frames: np.ndarray, prompt_or_caption: str | dict, fps: float = 8.0) -> dict[str, float]:
    """The colour fields of `score_clip` alone (backdrop, shirt_color, hair_color, object_color, read on the first
    frame): a fraction of its cost, for measurements that need only colours."""
    caption = _as_caption(prompt_or_caption)
    clip, size = _resize_for_stage(_frames(frames))
    scene, masks = _first_frame_layout(caption, size, fps)
    return colour_scores(clip[0], caption, scene, masks)


def score_clip(frames: np.ndarray, prompt_or_caption: str | dict, fps: float = 8.0) -> dict[str, float]:
    """Per-field scores (1.0 match, 0.0 mismatch) of a clip against what its prompt or caption says.

    Fields: backdrop, shirt_color, hair_color, object_color, expression, action, camera_motion, shot_type,
    position;
    a field is absent when the caption does not name it or the clip cannot show it."""
    caption = _as_caption(prompt_or_caption)
    clip, (h, w) = _resize_for_stage(_frames(frames))
    humans = [s for s in caption.get("subjects", []) if s.get("type") == "human"]
    scene, masks = _first_frame_layout(caption, (h, w), fps)
    main = scene.characters[0]
    first = clip[0]

    scores: dict[str, float] = colour_scores(first, caption, scene, masks)

    face = masks.get("face0")
    face_px = float(np.sqrt(face.sum())) if face is not None else 0.0
    small = _blur_small(first)
    if humans and humans[0].get("expression") and face_px >= 10:
        ys, xs = np.nonzero(face > 0.5)
        y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
        crop = first[y0:y1, x0:x1]
        cands = {
            e: render(s, 1, (h, w), fps, caption=False).frames[0, y0:y1, x0:x1].astype(np.float32)
            for e, s in _variants(scene, "expression", V.EXPRESSIONS)
        }
        scores["expression"] = float(_pick(crop, cands) == main.expression)
    if humans and humans[0].get("position"):
        options = {}
        for p in V.POSITIONS:
            s = scene.replace()
            s.characters[0].position = p
            if len(s.characters) > 1 and s.characters[1].position == p:
                s.characters[1].position = next(q for q in V.POSITIONS if q not in (p, main.position))
            options[p] = _blur_small(render(s, 1, (h, w), fps, caption=False).frames[0].astype(np.float32))
        scores["position"] = float(_pick(small, options) == main.position)
    if caption.get("shot_type"):
        options = {
            v: _blur_small(render(s, 1, (h, w), fps, caption=False).frames[0].astype(np.float32))
            for v, s in _variants(scene, "shot_type", V.SHOT_TYPES)
        }
        scores["shot_type"] = float(_pick(small, options) == scene.shot.shot_type)
    if humans and humans[0].get("action") and len(clip) > 1:
        got = _action(clip, scene, fps)
        if got is not None:
            scores["action"] = float(got == main.action)
    if caption.get("camera_motion") and len(clip) > 1:
        scores["camera_motion"] = float(_camera_motion(clip, scene, fps))
    return scores


def _camera_motion(clip: np.ndarray, scene: Scene, fps: float) -> bool:
    """Render the clip under every camera motion; the caption's motion must be the closest, or look
    the same as the closest (pan and truck, zoom and dolly are one picture when nothing shows depth)."""
    t, h, w = clip.shape[:3]
    cands = {
        m: _blur_small(render(s, t, (h, w), fps, caption=False).frames.astype(np.float32))
        for m, s in _variants(scene, "camera_motion", V.CAMERA_MOTIONS)
    }
    small = _blur_small(clip)
    dist = {m: float(((small - c) ** 2).mean()) for m, c in cands.items()}
    best = min(dist, key=dist.get)
    want = scene.shot.camera_motion
    if best == want:
        return True
    spread = float(np.median(list(dist.values())))
    return float(((cands[best] - cands[want]) ** 2).mean()) < 0.01 * spread


def _action(clip: np.ndarray, scene: Scene, fps: float) -> str | None:
    """Render the clip once per action and keep the closest, compared inside the people's reach.
    None when the caption's action cannot be told apart from another one at this framing (talking or
    nodding in a wide shot where the face is a few pixels)."""
    t, h, w = clip.shape[:3]
    cands, reach = {}, np.zeros((h, w), np.float32)
    for a, s in _variants(scene, "action", V.ACTIONS):
        r = render(s, t, (h, w), fps, caption=False)
        cands[a] = r.frames.astype(np.float32)
        for box in r.boxes["characters"][:, 0]:
            x0, y0, x1, y1 = np.clip(np.round(box), 0, [w, h, w, h]).astype(int)
            reach[y0:y1, x0:x1] = 1.0
    want = cands[scene.characters[0].action]
    if any(a != scene.characters[0].action and np.abs(c - want).max() < 8.0 for a, c in cands.items()):
        return None
    weight = np.broadcast_to(reach, (t, h, w))
    return _pick(clip, cands, weight)


# ---- reports --------------------------------------------------------------------------------------------


def evaluate(clips, prompts) -> dict:
    """Score many clips (arrays (T, H, W, 3) or objects with .frames/.fps) against their prompts or
    captions; returns {"fields": {field: {"accuracy", "n"}}, "mean": mean field accuracy, "clips": n}."""
    clips, prompts = list(clips), list(prompts)
    if len(clips) != len(prompts):
        raise OpenreelsError(f"evaluate got {len(clips)} clips but {len(prompts)} prompts")
    per: dict[str, list[float]] = {f: [] for f in PROBE_FIELDS}
    for clip, prompt in zip(clips, prompts, strict=True):
        frames, fps = (clip.frames, clip.fps) if hasattr(clip, "frames") else (clip, 8.0)
        for k, v in score_clip(frames, prompt, fps).items():
            per[k].append(v)
    fields = {k: {"accuracy": float(np.mean(v)), "n": len(v)} for k, v in per.items() if v}
    mean = float(np.mean([f["accuracy"] for f in fields.values()])) if fields else float("nan")
    return {"fields": fields, "mean": mean, "clips": len(clips)}


def probe_table(n: int = 40, size: tuple[int, int] = (64, 64), frames: int = 17, seed: int = 0) -> dict:
    """Each probe's accuracy on n rendered clips scored against their own captions (should be near 1)
    and against the captions of other clips (a derangement: chance level)."""
    from openreels.world.scene import sample_scene

    rng = np.random.default_rng(seed)
    clips = [render(sample_scene(rng), frames, size) for _ in range(n)]
    captions = [c.caption for c in clips]
    shift = [captions[(i + 1 + n // 2) % n] for i in range(n)]
    return {
        "ground_truth": evaluate(clips, captions),
        "shuffled": evaluate(clips, shift),
        "shuffled_agree": agreement(captions, shift),
    }


def _field_value(caption: dict, field: str):
    if field in ("backdrop", "camera_motion", "shot_type"):
        return caption.get(field)
    humans = [s for s in caption.get("subjects", []) if s.get("type") == "human"]
    return humans[0].get(field) if humans else None


def agreement(captions: list[dict], others: list[dict]) -> dict[str, float]:
    """How often a shuffled caption names the same value as the clip's own (the chance level a probe
    should show on shuffled prompts), per probe field, over pairs where both name one."""
    out = {}
    for f in PROBE_FIELDS:
        pairs = [(_field_value(a, f), _field_value(b, f)) for a, b in zip(captions, others, strict=True)]
        pairs = [(a, b) for a, b in pairs if a is not None and b is not None]
        if pairs:
            out[f] = float(np.mean([a == b for a, b in pairs]))
    return out


__all__ = ["PROBE_FIELDS", "agreement", "estimate_motion", "evaluate", "probe_table", "score_clip"]


def cast_consistency(clips, captions, fps: float = 8.0) -> dict:
    """Across an episode's shots: how often the characters show their sheets' colours (hair and shirt), read
    in the first and the last frame of each shot with a person in it (a shot that drifts off its sheet counts
    against it). Characters drawn in their own colours in every shot look the same from shot to shot.
    Returns the match rate per field and overall ("colours"), and the number of shots scored."""
    fields = ("hair_color", "shirt_color")
    matches: dict[str, list[float]] = {f: [] for f in fields}
    shots = 0
    for clip, caption in zip(clips, captions, strict=True):
        caption = _as_caption(caption)
        if not any(s.get("type") == "human" for s in caption.get("subjects", [])):
            continue
        shots += 1
        frames, (h, w) = _resize_for_stage(_frames(clip))
        scene = _template_scene(caption)
        layout = render(scene, len(frames), (h, w), fps, masks=True, caption=False).masks
        for t in {0, len(frames) - 1}:
            scores = colour_scores(frames[t], caption, scene, {k: v[t] for k, v in layout.items()})
            for f in fields:
                if f in scores:
                    matches[f].append(scores[f])
    every = [v for values in matches.values() for v in values]
    result = {f: round(float(np.mean(v)), 4) if v else None for f, v in matches.items()}
    return result | {"colours": round(float(np.mean(every)), 4) if every else None, "shots": shots}
