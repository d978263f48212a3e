"""Rendering a scene to frames, with the ground truth of every frame.

The stage is layered: a background plate (depth 2-8), the characters (depth 1) and the objects (depth
0.9, just in front). Layer coordinates are "stage units" (an adult is 1 tall, feet at y = 0, y down)
chosen so that all layers line up in the first frame. The camera maps a layer at depth d to pixels as

    pixel = centre + R(roll) * [ s0 * zoom * d / (d - dolly) * (p - target - truck / d) + pan ]

so pan/tilt (pixel shift) and zoom (focal length) move every layer alike, while dolly (moving along the
view axis) and truck (moving sideways) move near layers more than far ones: parallax. Motions are named
for what the camera does: pan/truck left moves content right, tilt up moves content down, zoom/dolly in
makes content grow, roll clockwise turns content counter-clockwise on screen.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field

import numpy as np

from openreels.errors import OpenreelsError
from openreels.world import face as F
from openreels.world import raster as R
from openreels.world import vocab as V
from openreels.world.scene import Character, Scene, SceneObject, validate

MIN_SIZE, MAX_SIZE = 64, 512
MAX_FRAMES = 4096
CHUNK_PIXELS = 2_000_000  # frames are drawn in chunks of about this many pixels (bounded memory)
CHAR_DEPTH, OBJECT_DEPTH = 1.0, 0.9
ENV_DEPTH = {"studio": 3.0, "room": 2.2, "street": 4.0, "park": 4.0, "beach": 6.0, "night sky": 8.0}
POSITION_X = {"left": 0.25, "center": 0.5, "right": 0.75}  # fraction of frame width in the first frame

# shot type -> (frame height in main-character heights, where the head centre sits, 0 = top)
SHOT_FRAMING = {
    "extreme close-up": (0.17, 0.5),
    "close-up": (0.36, 0.45),
    "medium close-up": (0.55, 0.3),
    "medium shot": (0.8, 0.22),
    "full shot": (1.3, 0.16),
    "wide shot": (2.8, 0.33),
}
# shot angle -> (vertical squash of the stage, horizon height in stage units)
ANGLE_VIEW = {
    "eye level": (1.0, -0.32),
    "high angle": (0.86, -0.9),
    "low angle": (0.94, 0.06),
    "overhead": (0.62, -60.0),
}

# Body proportions in character heights (feet at 0, top of head at -1).
BODY = {
    "man": dict(height=1.0, head_y=-0.87, head_rx=0.1, head_ry=0.12, shoulder=0.13, torso=(-0.745, -0.43), hip=0.058, leg_r=0.045, arm_r=0.033, arm=(0.165, 0.15), hand_r=0.03),
    "woman": dict(height=0.94, head_y=-0.87, head_rx=0.1, head_ry=0.12, shoulder=0.112, torso=(-0.745, -0.43), hip=0.055, leg_r=0.04, arm_r=0.029, arm=(0.16, 0.145), hand_r=0.027),
    "child": dict(height=0.64, head_y=-0.83, head_rx=0.15, head_ry=0.17, shoulder=0.13, torso=(-0.655, -0.38), hip=0.06, leg_r=0.055, arm_r=0.042, arm=(0.15, 0.14), hand_r=0.04),
}  # fmt: skip
TROUSERS = (52, 58, 78)
SHOES = (40, 32, 30)
INK = (28, 22, 22)


def _rgb(c) -> np.ndarray:
    return np.asarray(c, np.float32) / 255.0


def _shade(c, k: float) -> np.ndarray:
    return np.clip(_rgb(c) * k, 0, 1)


@dataclass
class Clip:
    """A rendered clip and its ground truth (see `render`)."""

    frames: np.ndarray  # (T, H, W, 3) uint8
    fps: float
    caption: dict
    prompt: str
    landmarks: np.ndarray  # (T, C, 70, 2) pixel (x, y); order in openreels.world.face
    boxes: dict[str, np.ndarray]  # "characters": (T, C, 4), "objects": (T, O, 4) xyxy pixels, unclipped
    camera: dict[
        str, np.ndarray
    ]  # per-frame pan (T,2) px, zoom (T,), dolly (T,), truck (T,2), roll (T,) rad,
    # and "layer/<name>": (T, 3, 3) maps from layer stage units to pixels
    scene: Scene
    masks: dict[str, np.ndarray] = field(default_factory=dict)  # label -> (T, H, W) visible coverage


@dataclass
class Layout:
    """First-frame framing: pixels per stage unit, the target point, frame size."""

    h: int
    w: int
    s0: float
    target: tuple[float, float]
    squash: float
    horizon: float

    def x_at(self, frac: float) -> float:
        return self.target[0] + (frac - 0.5) * self.w / self.s0


def layout(scene: Scene, size: tuple[int, int]) -> Layout:
    h, w = size
    main = BODY[scene.characters[0].kind]
    vh_factor, head_at = SHOT_FRAMING[scene.shot.shot_type]
    squash, horizon = ANGLE_VIEW[scene.shot.angle]
    vh = vh_factor * main["height"]
    # the layer transform squashes after subtracting the target, so offsets are divided by the squash
    ty = main["head_y"] * main["height"] + (0.5 - head_at) * vh / squash
    if scene.shot.shot_type == "wide shot":
        ty = -0.5 * main["height"] + 0.12 * vh / squash
    return Layout(h, w, h / vh, (0.0, ty), squash, horizon)


def _check_size(size) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in size)
    except (TypeError, ValueError):
        raise OpenreelsError(f"size must be (height, width), got {size!r}") from None
    if not (MIN_SIZE <= h <= MAX_SIZE and MIN_SIZE <= w <= MAX_SIZE):
        raise OpenreelsError(f"size {h}x{w} is out of range; height and width must be {MIN_SIZE}..{MAX_SIZE}")
    return h, w


# ---- camera ---------------------------------------------------------------------------------------------


def camera_path(scene: Scene, lay: Layout, frames: int, fps: float) -> dict[str, np.ndarray]:
    """Per-frame camera parameters for the scene's motion template (linear over the clip)."""
    t = np.arange(frames, dtype=np.float64)
    tau = t / (frames - 1) if frames > 1 else np.zeros(1)
    zero = np.zeros(frames)
    pan = np.zeros((frames, 2))
    truck = np.zeros((frames, 2))
    zoom, dolly, roll = np.ones(frames), zero.copy(), zero.copy()
    m = scene.shot.camera_motion
    vw = lay.w / lay.s0
    if m == "pan left":
        pan[:, 0] = 0.3 * lay.w * tau
    elif m == "pan right":
        pan[:, 0] = -0.3 * lay.w * tau
    elif m == "tilt up":
        pan[:, 1] = 0.3 * lay.h * tau
    elif m == "tilt down":
        pan[:, 1] = -0.3 * lay.h * tau
    elif m == "zoom in":
        zoom = 1.0 + 0.6 * tau
    elif m == "zoom out":
        zoom = 1.0 / (1.0 + 0.6 * tau)
    elif m == "dolly in":
        dolly = 0.45 * tau  # people grow 1.8x (zoom in: 1.6x); the background far less
    elif m == "dolly out":
        dolly = -0.8 * tau  # people shrink to 0.56x (zoom out: 0.63x)
    elif m == "truck left":
        truck[:, 0] = -0.3 * vw * tau
    elif m == "truck right":
        truck[:, 0] = 0.3 * vw * tau
    elif m == "roll clockwise":
        roll = -math.radians(25) * tau  # the camera turns clockwise, so content turns counter-clockwise
    elif m == "roll counterclockwise":
        roll = math.radians(25) * tau
    elif m == "handheld":
        rng = np.random.default_rng(7)  # one fixed shake path: the handheld template, like the others
        sec = t / fps
        for k in range(3):
            f, ph = rng.uniform(0.4, 1.6, 3), rng.uniform(0, 2 * np.pi, 3)
            amp = 0.012 / (k + 1)
            pan[:, 0] += amp * lay.h * (np.sin(2 * np.pi * f[0] * sec + ph[0]) - np.sin(ph[0]))
            pan[:, 1] += amp * lay.h * (np.sin(2 * np.pi * f[1] * sec + ph[1]) - np.sin(ph[1]))
            roll += math.radians(1.5) / (k + 1) * (np.sin(2 * np.pi * f[2] * sec + ph[2]) - np.sin(ph[2]))
    return {"pan": pan, "zoom": zoom, "dolly": dolly, "truck": truck, "roll": roll}


def layer_transform(cam: dict[str, np.ndarray], lay: Layout, depth: float) -> np.ndarray:
    """(T, 3, 3) forward maps from a layer's stage units to pixels (see the module docstring)."""
    k = lay.s0 * cam["zoom"] * depth / (depth - cam["dolly"])
    centre = R.translate(lay.w / 2, lay.h / 2)
    return (
        centre
        @ R.rotate(cam["roll"])
        @ R.translate(cam["pan"][:, 0], cam["pan"][:, 1])
        @ R.scale(k, k * lay.squash)
        @ R.translate(
            -lay.target[0] - cam["truck"][:, 0] / depth, -lay.target[1] - cam["truck"][:, 1] / depth
        )
    )


# ---- painter with optional visibility masks -------------------------------------------------------------


class Painter:
    """Queues shapes on a canvas; `label` names what a shape belongs to, for visibility masks."""

    def __init__(self, canvas: R.Canvas) -> None:
        self.canvas = canvas

    def __call__(
        self, fwd, sdf, color, bbox=None, alpha=1.0, label: str | None = None, per_frame=False
    ) -> None:
        self.canvas.draw(fwd, sdf, color, bbox, alpha, label, per_frame)


# ---- characters -----------------------------------------------------------------------------------------


def _arm_angles(action: str, side: int, tau: np.ndarray, sec: np.ndarray):
    """Upper-arm and forearm angles from hanging straight down (positive = away from the body)."""
    a1 = np.full_like(tau, 0.14)
    a2 = np.full_like(tau, 0.08)
    ramp = np.clip(sec / 0.4, 0, 1)
    if action == "waving" and side > 0:
        a1 = 0.14 + (2.4 - 0.14) * ramp
        a2 = 0.35 + 0.55 * np.sin(2 * np.pi * 1.4 * sec) * ramp
    elif action == "raising arms":
        a1 = 0.14 + (2.75 - 0.14) * np.clip(tau / 0.6, 0, 1)
        a2 = 0.08 + 0.1 * np.clip(tau / 0.6, 0, 1)
    elif action in ("walking left", "walking right"):
        a1 = 0.12 + side * 0.3 * np.sin(2 * np.pi * 1.6 * sec)
    elif action == "jumping":
        a1 = 0.14 + 0.6 * np.abs(np.sin(np.pi * 1.3 * sec))
    return a1, a2


def _character(
    paint: Painter,
    lay: Layout,
    layer: np.ndarray,
    c: Character,
    idx: int,
    seed: int,
    tau: np.ndarray,
    sec: np.ndarray,
    landmarks_out: np.ndarray,
    boxes_out: np.ndarray,
    turning_ok: bool = True,
) -> None:
    T = tau.shape[0]
    b = BODY[c.kind]
    hgt = b["height"]
    skin = V.SKIN_RGB[c.skin]
    hair = V.HAIR_RGB[c.hair_color] if c.hair_color else None
    shirt = V.COLORS[c.shirt_color]
    x0 = lay.x_at(POSITION_X[c.position])
    vw = lay.w / lay.s0
    dx = np.zeros(T)
    dy = np.zeros(T)
    if c.action == "walking left":
        dx = -0.3 * vw * tau
        dy = -0.012 * hgt * np.abs(np.sin(2 * np.pi * 1.6 * sec))
    elif c.action == "walking right":
        dx = 0.3 * vw * tau
        dy = -0.012 * hgt * np.abs(np.sin(2 * np.pi * 1.6 * sec))
    elif c.action == "jumping":
        dy = -0.13 * hgt * np.abs(np.sin(np.pi * 1.3 * sec))
    facing = np.ones(T)
    turn_shift = np.zeros(T)
    if c.action == "turning around" and turning_ok:
        phi = np.pi * tau
        facing = np.cos(phi)
        turn_shift = np.sin(phi)
    body_sx = np.maximum(np.abs(facing), 0.45)
    root = layer @ R.translate(x0 + dx, dy) @ R.scale(hgt * body_sx, hgt)

    def part(m=None):
        return root if m is None else root @ m

    # head group (head units: half-width 1)
    head = (
        root
        @ R.translate(0.0, b["head_y"])
        @ R.scale(1.0 / body_sx, 1.0)
        @ R.scale(b["head_rx"] * body_sx, b["head_rx"])
    )
    ry = b["head_ry"] / b["head_rx"]
    feat_dx = 0.55 * turn_shift
    feat_dy = np.zeros(T)
    if c.action == "nodding":
        feat_dy = 0.16 * np.sin(2 * np.pi * 1.5 * sec)
    elif c.action == "shaking head":
        feat_dx = feat_dx + 0.3 * np.sin(2 * np.pi * 1.5 * sec)
    feat_sx = np.maximum(np.abs(facing), 0.05)
    face = head @ R.translate(feat_dx, feat_dy) @ R.scale(feat_sx, 1.0)
    front = facing > 0.15  # face features drawn only while the face is towards the camera
    front_a = front.astype(np.float32)
    lab = f"char{idx}"

    # long hair behind the body
    if c.hair_style == "long" and hair is not None:
        paint(head, R.box(1.2, 1.0, 0.6, 0.0, 0.8), _rgb(hair), (-1.3, -0.3, 1.3, 1.9), label=f"hair{idx}")
    # legs and shoes
    legs_swing = np.zeros(T)
    if c.action in ("walking left", "walking right"):
        legs_swing = 0.35 * np.sin(2 * np.pi * 1.6 * sec)
    for side in (-1, 1):
        hip = (side * b["hip"], b["torso"][1] - 0.02)
        leg = part(R.translate(*hip) @ R.rotate(side * 0.03 + side * legs_swing))
        length = -hip[1] - 0.03
        paint(
            leg,
            R.capsule(0, 0, 0, length, b["leg_r"]),
            _rgb(TROUSERS),
            (-0.1, -0.1, 0.1, length + 0.1),
            label=lab,
        )
        paint(
            leg,
            R.ellipse(0.055, 0.028, side * 0.02, length + 0.01),
            _rgb(SHOES),
            (-0.1, length - 0.05, 0.12, length + 0.06),
            label=lab,
        )
    # torso
    top, bottom = b["torso"]
    paint(
        part(),
        R.box(b["shoulder"], (bottom - top) / 2, 0.05, 0.0, (top + bottom) / 2),
        _rgb(shirt),
        (-0.2, top - 0.03, 0.2, bottom + 0.03),
        label=f"shirt{idx}",
    )
    # arms (character's left = image right)
    hands = []
    for side in (-1, 1):
        a1, a2 = _arm_angles(c.action, side, tau, sec)
        shoulder = R.translate(side * (b["shoulder"] - b["arm_r"] * 0.6), top + 0.035)
        upper = part(shoulder @ R.rotate(-side * a1))
        ul, fl = b["arm"]
        fore = upper @ R.translate(0, ul) @ R.rotate(-side * a2)
        paint(
            fore,
            R.capsule(0, 0, 0, fl, b["arm_r"] * 0.9),
            _rgb(skin),
            (-0.06, -0.06, 0.06, fl + 0.06),
            label=lab,
        )
        paint(
            fore,
            R.ellipse(b["hand_r"], b["hand_r"] * 1.1, 0, fl + 0.01),
            _rgb(skin),
            (-0.06, fl - 0.05, 0.06, fl + 0.06),
            label=lab,
        )
        paint(
            upper,
            R.capsule(0, 0, 0, ul, b["arm_r"]),
            _rgb(shirt),
            (-0.06, -0.06, 0.06, ul + 0.06),
            label=f"shirt{idx}",
        )
        hands.append(R.apply(fore, np.array([[0.0, fl + 0.01]]))[:, 0])
    # neck, ears, head
    paint(
        part(),
        R.box(0.03 if c.kind != "child" else 0.04, 0.04, 0.01, 0.0, top - 0.01),
        _shade(skin, 0.9),
        (-0.06, top - 0.07, 0.06, top + 0.04),
        label=lab,
    )
    for side in (-1, 1):
        paint(
            head,
            R.ellipse(0.18, 0.26, side * 0.98, 0.1),
            _shade(skin, 0.95),
            (-1.3, -0.3, 1.3, 0.5),
            label=lab,
        )
    paint(head, R.ellipse(1.0, ry), _rgb(skin), (-1.05, -ry - 0.05, 1.05, ry + 0.05), label=f"face{idx}")

    # face features
    p = F.expression_params(c.expression, c.intensity)
    blink = _blinks(seed, idx, sec)
    head_px = np.sqrt(np.abs(np.linalg.det(head[:, :2, :2]))).max()
    if head_px >= 1.5:  # features of a head under 3 px across are invisible: skip them
        _face(paint, face, p, c, hair, skin, blink, sec, front_a, ry, lab)

    # hair on top (covers the whole head when seen from behind)
    if hair is not None:
        if c.hair_style == "short":
            cap = R.intersect(R.ellipse(1.08, ry * 1.08, 0, -0.04), lambda x, y: y + 0.42 - 0.28 * x * x)
        else:
            cap = R.intersect(
                R.ellipse(1.1, ry * 1.1, 0, -0.02), lambda x, y: y + 0.3 - 0.45 * np.abs(x) - 0.15 * x * x
            )
        paint(head, cap, _rgb(hair), (-1.2, -ry - 0.2, 1.2, 0.6), label=f"hair{idx}")
        back = 1.0 - front_a
        if back.any():
            paint(
                head,
                R.ellipse(1.06, ry * 1.04),
                _rgb(hair),
                (-1.2, -ry - 0.2, 1.2, ry + 0.2),
                alpha=back,
                label=f"hair{idx}",
            )

    landmarks_out[:] = _landmarks(head, face, p, blink, ry, c, sec)
    # box from the head, hands and feet
    pts = [R.apply(head, np.array([[-1.2, -ry - 0.15], [1.2, -ry - 0.15], [-1.2, ry], [1.2, ry]]))]
    pts.append(np.stack(hands, axis=1))
    pts.append(
        R.apply(root, np.array([[-0.09, 0.0], [0.09, 0.0], [-b["shoulder"], top], [b["shoulder"], top]]))
    )
    allp = np.concatenate(pts, axis=1)
    boxes_out[:] = np.concatenate([allp.min(axis=1), allp.max(axis=1)], axis=1)


def _blinks(seed: int, idx: int, sec: np.ndarray) -> np.ndarray:
    """Eye-open multiplier per frame: a blink every 2-4 s, never in the first 0.3 s."""
    rng = np.random.default_rng([seed, 11, idx])
    out = np.ones_like(sec)
    t = rng.uniform(0.6, 2.5)
    end = float(sec[-1]) if len(sec) else 0.0
    while t <= end + 0.1:
        out[np.abs(sec - t) < 0.07] = 0.1
        t += rng.uniform(2.0, 4.0)
    return out


def _col(v) -> np.ndarray:
    """Per-frame scalar (T,) as (T, 1, 1) float32 so shape parameters broadcast over pixels."""
    return np.asarray(v, np.float32)[:, None, None]


def _face(paint, face, p, c: Character, hair, skin, blink, sec, front_a, ry, lab) -> None:
    paint = functools.partial(paint, per_frame=True)  # eye and mouth shapes change per frame
    if c.hair_color in (None, "white", "blonde"):
        brow_col = _rgb((90, 62, 45)) if hair is None else _shade(hair, 0.78)
    else:
        brow_col = _shade(hair, 0.7)
    eye_h = 0.15 * p["eye_open"] * blink  # (T,)
    closed = eye_h < 0.045
    opened_a = (~closed).astype(np.float32) * front_a
    shut_a = closed.astype(np.float32) * front_a
    h = _col(np.maximum(eye_h, 0.045))
    lash = 0.06 if c.kind == "woman" else 0.04
    for side in (-1, 1):
        ex = side * 0.38
        bb = (ex - 0.3, -0.4, ex + 0.3, 0.4)
        paint(
            face,
            R.bent_ellipse(0.24, h + lash, h + 0.035, 0.0, ex, 0.02),
            _rgb(INK),
            bb,
            alpha=opened_a,
            label=lab,
        )
        white = R.bent_ellipse(0.2, h, h, 0.0, ex, 0.02)
        paint(face, white, _rgb((250, 250, 250)), bb, alpha=opened_a, label=lab)
        px = ex + p["pupil_x"] * 0.08
        py = 0.02 + p["pupil_y"] * np.minimum(h, 0.1) * 0.6
        pr = 0.1 * p["pupil_r"]
        paint(
            face,
            R.intersect(R.ellipse(pr, pr, px, py), white),
            _rgb((40, 30, 30)),
            bb,
            alpha=opened_a,
            label=lab,
        )
        bend = p["eye_bend"] if p["eye_bend"] else 0.03
        paint(face, R.bent_ellipse(0.22, 0.04, 0.04, bend, ex, 0.04), _rgb(INK), bb, alpha=shut_a, label=lab)
        by = -0.34 - p["brow_y"] - (p["brow_asym"] if side > 0 else 0.0)
        inner = (side * 0.14, by - 0.12 * p["brow_tilt"])
        outer = (side * 0.64, by + 0.05 * p["brow_tilt"])
        brow = R.capsule(*inner, *outer, 0.055 if c.kind == "man" else 0.045)
        paint(face, brow, brow_col, (-0.8, -0.9, 0.8, 0.1), alpha=front_a, label=lab)
        if p["tears"] > 0.01:
            drop = 0.25 + 0.35 * np.mod(sec * 0.8 + (0.5 if side > 0 else 0.0), 1.0)
            tear = R.ellipse(0.065, 0.1, side * 0.42, _col(drop))
            paint(
                face,
                tear,
                _rgb((120, 185, 255)),
                (side * 0.42 - 0.1, 0.1, side * 0.42 + 0.1, 0.75),
                alpha=front_a * min(p["tears"], 1.0) * 0.9,
                label=lab,
            )
        if p["blush"] > 0.01:
            paint(
                face,
                R.ellipse(0.2, 0.11, side * 0.6, 0.42),
                _rgb((240, 110, 120)),
                (side * 0.6 - 0.25, 0.25, side * 0.6 + 0.25, 0.6),
                alpha=front_a * 0.35 * p["blush"],
                label=lab,
            )
        if p["wrinkle"] > 0.01:
            paint(
                face,
                R.capsule(side * 0.1, 0.12, side * 0.2, 0.22, 0.025),
                _shade(skin, 0.7),
                (-0.3, 0.05, 0.3, 0.3),
                alpha=front_a * p["wrinkle"],
                label=lab,
            )
    paint(
        face,
        R.capsule(0.0, 0.18, 0.04, 0.36, 0.045),
        _shade(skin, 0.8),
        (-0.12, 0.1, 0.14, 0.45),
        alpha=front_a,
        label=lab,
    )
    # mouth: lips, dark inside, teeth; talking opens it rhythmically
    mouth = face @ R.translate(p["mouth_dx"], 0.66) @ R.rotate(p["mouth_angle"])
    mrx = 0.3 * p["mouth_w"]
    opening = 0.34 * p["mouth_open"] + _talk(c, sec)  # (T,)
    o = _col(np.maximum(opening, 1e-3))
    up, down = o * p["mouth_up"] + 1e-3, o * (1.0 - p["mouth_up"]) + 1e-3
    bend = p["mouth_bend"]
    lip = _rgb((200, 70, 80)) if c.kind == "woman" else _shade(skin, 0.72)
    reach = float(opening.max()) + abs(bend) + 0.1
    bb = (-mrx - 0.1, -reach, mrx + 0.1, reach)
    paint(
        mouth, R.bent_ellipse(mrx + 0.03, up + 0.045, down + 0.055, bend), lip, bb, alpha=front_a, label=lab
    )
    is_open = (opening > 0.01).astype(np.float32) * front_a
    inner = R.bent_ellipse(mrx, up, down, bend)
    paint(mouth, inner, _rgb((90, 20, 30)), bb, alpha=is_open, label=lab)
    if p["teeth"] > 0.3:
        cut = -up * 0.75 + 0.03

        def teeth_line(x, y, cut=cut):
            return y - cut - bend * (1 - np.minimum((x / mrx) ** 2, 1))

        paint(mouth, R.intersect(inner, teeth_line), _rgb((245, 245, 240)), bb, alpha=is_open, label=lab)
    line_a = (opening <= 0.01).astype(np.float32) * front_a
    paint(mouth, R.bent_ellipse(mrx, 0.012, 0.012, bend), _shade(lip, 0.55), bb, alpha=line_a, label=lab)


def _talk(c: Character, sec: np.ndarray) -> np.ndarray:
    if c.action != "talking":
        return np.zeros_like(sec)
    # syllable-like opening starting closed: two incommensurate rates so it never looks periodic
    return 0.11 * (1 - np.cos(2 * np.pi * 3.1 * sec)) * (0.75 + 0.25 * np.sin(2 * np.pi * 0.9 * sec))


def _landmarks(head, face, p, blink, ry, c: Character, sec) -> np.ndarray:
    T = head.shape[0]
    out = np.zeros((T, F.NUM_LANDMARKS, 2))
    th = np.pi - np.arange(17) * np.pi / 16
    out[:, F.JAW] = R.apply(head, np.stack([np.cos(th), ry * np.sin(th)], -1))
    for side, sl in ((-1, F.LEFT_BROW), (1, F.RIGHT_BROW)):
        by = -0.34 - p["brow_y"] - (p["brow_asym"] if side > 0 else 0.0)
        inner = np.array([side * 0.14, by - 0.12 * p["brow_tilt"]])
        outer = np.array([side * 0.64, by + 0.05 * p["brow_tilt"]])
        s = np.linspace(0, 1, 5)[:, None]
        pts = outer + (inner - outer) * s if side < 0 else inner + (outer - inner) * s
        out[:, sl] = R.apply(face, pts)
    nose = np.array(
        [
            [0.0, 0.0],
            [0.01, 0.12],
            [0.02, 0.24],
            [0.04, 0.36],
            [-0.1, 0.4],
            [-0.05, 0.42],
            [0.02, 0.44],
            [0.09, 0.42],
            [0.14, 0.4],
        ]
    )
    out[:, F.NOSE] = R.apply(face, nose)
    eye_h = (0.15 * p["eye_open"] * blink)[:, None]  # (T, 1)
    shut = eye_h < 0.045
    h = np.where(shut, 0.04, eye_h)
    bend = np.where(shut, p["eye_bend"] if p["eye_bend"] else 0.03, 0.0)
    cy = np.where(shut, 0.04, 0.02)
    ang = np.array([np.pi, 2 * np.pi / 3, np.pi / 3, 0.0, np.pi / 3, 2 * np.pi / 3])
    upper = np.array([True, True, True, True, False, False])
    h_up = np.where(shut, 0.0, h)  # a closed eye's upper and lower lid points meet on the lid line
    for side, sl in ((-1, F.LEFT_EYE), (1, F.RIGHT_EYE)):
        out[:, sl] = R.apply(face, R.bent_point(0.2, h_up, h_up, bend, side * 0.38, cy, ang, upper))
    for k, side in enumerate((-1, 1)):
        py = 0.02 + p["pupil_y"] * min(0.15 * p["eye_open"], 0.1) * 0.6
        out[:, 68 + k] = R.apply(face, np.array([[side * 0.38 + p["pupil_x"] * 0.08, py]]))[:, 0]
    mouth = face @ R.translate(p["mouth_dx"], 0.66) @ R.rotate(p["mouth_angle"])
    mrx = 0.3 * p["mouth_w"]
    o = (0.34 * p["mouth_open"] + _talk(c, sec))[:, None]
    up, down = o * p["mouth_up"], o * (1.0 - p["mouth_up"])
    q = np.pi / 6
    outer_ang = np.array([6, 5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5]) * q
    outer_up = np.array([True] * 7 + [False] * 5)
    inner_ang = np.array([4, 3, 2, 1, 0, 1, 2, 3]) * np.pi / 4
    inner_up = np.array([True] * 5 + [False] * 3)
    bend = p["mouth_bend"]
    out[:, F.OUTER_LIPS] = R.apply(
        mouth, R.bent_point(mrx + 0.03, up + 0.045, down + 0.055, bend, 0, 0, outer_ang, outer_up)
    )
    out[:, F.INNER_LIPS] = R.apply(mouth, R.bent_point(mrx, up, down, bend, 0, 0, inner_ang, inner_up))
    return out


# ---- objects --------------------------------------------------------------------------------------------


def _object(paint: Painter, fwd: np.ndarray, o: SceneObject, label: str) -> None:
    """Draw one object in object units (about 1 across, centred at 0)."""
    col = _rgb(V.COLORS[o.color])
    darker = np.clip(col * 0.7, 0, 1)
    bb = (-0.8, -0.8, 0.8, 1.0)
    if o.kind == "ball":
        paint(fwd, R.ellipse(0.5, 0.5), col, bb, label=label)
        paint(
            fwd,
            R.intersect(R.ellipse(0.5, 0.5), lambda x, y: np.abs(y - 0.35 * x) - 0.07),
            np.clip(col * 0.6 + 0.4, 0, 1),
            bb,
            label=label,
        )
        paint(fwd, R.ellipse(0.1, 0.07, -0.2, -0.25), _rgb((255, 255, 255)), bb, alpha=0.6, label=label)
    elif o.kind == "cup":
        ring = R.subtract(R.ellipse(0.22, 0.22, 0.33, 0.05), R.ellipse(0.12, 0.13, 0.33, 0.05))
        paint(fwd, ring, col, bb, label=label)
        paint(fwd, R.box(0.32, 0.4, 0.1, 0.0, 0.05), col, bb, label=label)
        paint(fwd, R.ellipse(0.32, 0.08, 0.0, -0.33), darker, bb, label=label)
        paint(fwd, R.ellipse(0.26, 0.05, 0.0, -0.32), _rgb((110, 70, 40)), bb, label=label)
    elif o.kind == "hat":
        paint(fwd, R.ellipse(0.6, 0.12, 0.0, 0.25), col, bb, label=label)
        paint(fwd, R.box(0.34, 0.32, 0.12, 0.0, -0.05), col, bb, label=label)
        paint(fwd, R.box(0.345, 0.06, 0.0, 0.0, 0.16), darker, bb, label=label)
    elif o.kind == "book":
        paint(fwd, R.box(0.36, 0.46, 0.04), col, bb, label=label)
        paint(fwd, R.box(0.26, 0.4, 0.0, 0.07, 0.0), _rgb((245, 240, 225)), bb, label=label)
        paint(fwd, R.box(0.22, 0.3, 0.0, 0.07, 0.0), col, bb, label=label)
        paint(fwd, R.box(0.06, 0.46, 0.0, -0.3, 0.0), darker, bb, label=label)
    elif o.kind == "umbrella":
        canopy = R.intersect(R.ellipse(0.75, 0.55, 0.0, 0.05), R.halfplane(0.0, 1.0, 0.05))
        scallops = R.repeat_x(R.ellipse(0.125, 0.08, 0.0, 0.05), 0.25)
        paint(fwd, R.subtract(canopy, scallops), col, bb, label=label)
        for x in (-0.35, 0.0, 0.35):
            paint(fwd, R.capsule(0.0, -0.48, x, 0.02, 0.018), darker, bb, label=label)
        paint(fwd, R.capsule(0.0, 0.0, 0.0, 0.85, 0.03), _rgb((60, 50, 45)), bb, label=label)
        hook = R.intersect(
            R.subtract(R.ellipse(0.1, 0.1, 0.1, 0.85), R.ellipse(0.06, 0.06, 0.1, 0.85)),
            R.halfplane(0.0, -1.0, -0.85),
        )
        paint(fwd, hook, _rgb((60, 50, 45)), bb, label=label)
    elif o.kind == "flower":
        paint(fwd, R.capsule(0.0, 0.0, 0.02, 0.9, 0.04), _rgb((50, 140, 60)), bb, label=label)
        paint(fwd, R.ellipse(0.16, 0.07, 0.14, 0.5), _rgb((60, 160, 70)), bb, label=label)
        for k in range(5):
            a = 2 * np.pi * k / 5 - np.pi / 2
            paint(
                fwd, R.ellipse(0.17, 0.17, 0.22 * np.cos(a), -0.12 + 0.22 * np.sin(a)), col, bb, label=label
            )
        centre = (110, 70, 30) if o.color in ("yellow", "orange") else (250, 210, 60)
        paint(fwd, R.ellipse(0.12, 0.12, 0.0, -0.12), _rgb(centre), bb, label=label)


OBJECT_SIZE = {"ball": 0.14, "cup": 0.12, "hat": 0.17, "book": 0.15, "umbrella": 0.4, "flower": 0.2}


def object_anchor(scene: Scene, lay: Layout, o: SceneObject) -> tuple[float, float, float]:
    """Object centre (stage units, first frame) and size: beside the main character at hand height."""
    main = BODY[scene.characters[0].kind]
    size = OBJECT_SIZE[o.kind] * main["height"]
    y = -0.42 * main["height"]
    if o.kind == "umbrella":
        y = -0.62 * main["height"]
    return lay.x_at(POSITION_X[o.position]), y, size


# ---- environments ---------------------------------------------------------------------------------------


def _stars(seed: int) -> R.Sdf:
    """A star field: one jittered dot per grid cell, kept in a third of the cells (hash of the cell)."""
    cell = 0.11
    ox, oy = np.random.default_rng([seed, 5]).uniform(0, 100, 2)

    def sdf(x, y):
        gx, gy = np.floor(x / cell + ox), np.floor(y / cell + oy)
        h = np.sin(gx * 127.1 + gy * 311.7) * 43758.5453
        h -= np.floor(h)
        jx, jy = 0.2 + 0.6 * h, 0.2 + 0.6 * np.mod(h * 7.31, 1.0)
        dx = (x / cell + ox - gx - jx) * cell
        dy = (y / cell + oy - gy - jy) * cell
        d = np.sqrt(dx * dx + dy * dy) - 0.006 - 0.006 * np.mod(h * 3.7, 1.0)
        return np.where(h < 0.35, d, 1.0)

    return sdf


def _ground(hz: float) -> R.Sdf:
    return R.halfplane(0.0, -1.0, -hz)  # inside below the horizon (y > hz)


def _below(y: float, margin: float = 0.05) -> tuple[float, float, float, float]:
    """Local bbox of everything below height y (for ground-like shapes)."""
    return (-1e4, y - margin, 1e4, 1e4)


def _band(y0: float, y1: float) -> tuple[float, float, float, float]:
    return (-1e4, y0 - 0.02, 1e4, y1 + 0.02)


def _environment(paint: Painter, canvas: R.Canvas, scene: Scene, lay: Layout, fwd: np.ndarray) -> None:
    """The background plate. Each environment is one fixed set (like a studio backlot): its props are
    placed by a per-environment seed over a wide strip, so camera moves stay inside it and a caption
    fixes every pixel of the plate (which is what lets probes re-render what a caption says)."""
    env = scene.environment
    rng = np.random.default_rng([V.ENVIRONMENTS.index(env), 3])
    hz = lay.horizon
    paint = functools.partial(paint, label="env")  # the plain fill (backdrop, wall, sky) stays unlabelled
    if env == "studio":
        canvas.fill(_rgb(V.COLORS[scene.backdrop]))
        return
    if env == "room":
        canvas.fill(_rgb(V.COLORS[scene.backdrop]))
        for i in range(-6, 7):
            x = i * 1.3 + rng.uniform(-0.3, 0.3)
            y = hz - rng.uniform(0.45, 0.65)
            bb = (x - 0.3, y - 0.3, x + 0.3, y + 0.3)
            if rng.random() < 0.35:  # window
                paint(fwd, R.box(0.22, 0.26, 0.0, x, y), _rgb((235, 235, 230)), bb)
                for gx in (-0.1, 0.1):
                    for gy in (-0.12, 0.12):
                        paint(fwd, R.box(0.085, 0.105, 0.0, x + gx, y + gy), _rgb((150, 200, 240)), bb)
            else:  # framed picture
                paint(fwd, R.box(0.16, 0.12, 0.0, x, y), _rgb((90, 60, 35)), bb)
                paint(fwd, R.box(0.13, 0.09, 0.0, x, y), _rgb(rng.integers(40, 230, 3)), bb)
        paint(fwd, _ground(hz), _rgb((150, 105, 65)), _below(hz))
        paint(
            fwd,
            R.intersect(_ground(hz), R.halfplane(0.0, 1.0, hz + 0.04)),
            _rgb((235, 232, 222)),
            _band(hz, hz + 0.04),
        )
        return
    if env == "night sky":
        canvas.fill(_rgb((12, 16, 44)))
        paint(fwd, _ground(hz - 0.6), _rgb((28, 36, 78)), _below(hz - 0.6), alpha=0.6)
        paint(
            fwd,
            R.intersect(_stars(5), R.halfplane(0.0, 1.0, hz + 0.1)),
            _rgb((250, 248, 220)),
            (-1e4, -1e4, 1e4, hz + 0.12),
        )
        mx, my = rng.uniform(-1.2, 1.2), hz - rng.uniform(0.9, 1.4)
        moon = R.subtract(R.ellipse(0.12, 0.12, mx, my), R.ellipse(0.1, 0.1, mx + 0.06, my - 0.03))
        paint(fwd, moon, _rgb((245, 240, 200)), (mx - 0.2, my - 0.2, mx + 0.2, my + 0.2))
        hills = lambda x, y: hz + 0.03 * np.sin(x * 2.1 + 1.0) + 0.02 * np.sin(x * 5.3) - y  # noqa: E731
        paint(fwd, hills, _rgb((22, 26, 34)), _below(hz - 0.05))
        return
    sky = {"street": (165, 205, 238), "park": (150, 200, 245), "beach": (135, 195, 245)}[env]
    canvas.fill(_rgb(sky))
    paint(fwd, _ground(hz - 0.5), _rgb((255, 255, 255)), _below(hz - 0.5), alpha=0.18)
    if env == "street":
        for i in range(-9, 10):
            x = i * 0.62 + rng.uniform(-0.1, 0.1)
            hw, top = rng.uniform(0.22, 0.29), hz - rng.uniform(0.6, 1.5)
            col = [(170, 90, 70), (200, 180, 150), (140, 140, 150), (190, 140, 100), (120, 110, 120)][
                int(rng.integers(5))
            ]
            bb = (x - hw, top - 0.02, x + hw, hz + 0.02)
            half = (hz - top) / 2
            paint(fwd, R.box(hw, half + 0.01, 0.0, x, top + half), _rgb(col), bb)
            grid = R.repeat_xy(R.box(0.035, 0.045), 0.12, 0.16)
            windows = R.intersect(
                lambda xx, yy, g=grid, x0=x, y0=top: g(xx - x0, yy - y0 - 0.04),
                R.box(hw - 0.05, half - 0.08, 0.0, x, top + half - 0.03),
            )
            paint(fwd, windows, _rgb((225, 225, 185)), bb)
        paint(fwd, _ground(hz), _rgb((178, 176, 170)), _below(hz))
        paint(
            fwd,
            R.intersect(_ground(hz), R.halfplane(0.0, 1.0, hz + 0.03)),
            _rgb((120, 120, 118)),
            _band(hz, hz + 0.03),
        )
        seams = R.intersect(R.repeat_x(R.box(0.006, 100.0), 0.45), _ground(hz + 0.03))
        paint(fwd, seams, _rgb((150, 148, 142)), _below(hz + 0.03))
        return
    if env == "park":
        paint(
            fwd,
            R.repeat_x(R.ellipse(0.5, 0.18, 0.0, hz), 0.9),
            _rgb((110, 165, 100)),
            _band(hz - 0.18, hz + 0.18),
        )
        for i in range(-8, 9):
            x = i * 0.75 + rng.uniform(-0.2, 0.2)
            th = rng.uniform(0.45, 0.75)
            bb = (x - 0.35, hz - th - 0.35, x + 0.35, hz + 0.05)
            paint(fwd, R.box(0.035, th / 2, 0.0, x, hz - th / 2 + 0.02), _rgb((110, 75, 45)), bb)
            green = (40 + int(rng.integers(30)), 120 + int(rng.integers(40)), 50)
            paint(fwd, R.ellipse(0.24, 0.26, x, hz - th), _rgb(green), bb)
        paint(fwd, _ground(hz), _rgb((95, 170, 75)), _below(hz))
        return
    if env == "beach":
        sx, sy = rng.uniform(-1.2, 1.2), hz - rng.uniform(0.7, 1.2)
        paint(
            fwd,
            R.ellipse(0.13, 0.13, sx, sy),
            _rgb((255, 235, 140)),
            (sx - 0.2, sy - 0.2, sx + 0.2, sy + 0.2),
        )
        paint(fwd, _ground(hz), _rgb((40, 110, 190)), _below(hz))
        sand = lambda x, y: hz + 0.14 + 0.015 * np.sin(x * 7.0) - y  # noqa: E731
        paint(fwd, sand, _rgb((232, 212, 160)), _below(hz + 0.12))
        return
    raise OpenreelsError(f"unknown environment {env!r}")


# ---- the clip -------------------------------------------------------------------------------------------


def _lighting(canvas: R.Canvas, lighting: str) -> np.ndarray:
    """Apply the lighting gain and quantise: (T, H, W, 3) uint8."""
    out = np.empty((canvas.t, canvas.h, canvas.w, 3), np.uint8)
    for k, g in enumerate(V.LIGHTING_GAIN[lighting]):
        plane = canvas.img[k]
        plane *= g * 255.0
        plane += 0.5
        np.clip(plane, 0, 255, out=plane)
        out[..., k] = plane
    return out


def _chunks(parts: list, frames: int, chunk: int):
    for k, m in enumerate(parts):
        yield m, range(k * chunk, min((k + 1) * chunk, frames))


def _draw_frames(scene, lay, layers, tau, sec, marks, char_boxes, obj_boxes, mask_out) -> np.ndarray:
    """Draw frames (given by their tau/sec and layer maps) into uint8 pixels; fills the ground truth."""
    canvas = R.Canvas(len(tau), lay.h, lay.w)
    paint = Painter(canvas)
    _environment(paint, canvas, scene, lay, layers["background"])
    for i in [*range(1, len(scene.characters)), 0]:  # the main subject last, so it is never hidden
        c = scene.characters[i]
        _character(
            paint, lay, layers["characters"], c, i, scene.seed, tau, sec, marks[:, i], char_boxes[:, i]
        )
    for j, o in enumerate(scene.objects):
        x, y, s = object_anchor(scene, lay, o)
        fwd = layers["objects"] @ R.translate(x, y) @ R.scale(s, s)
        _object(paint, fwd, o, f"object{j}")
        reach = 0.6 * (1.0 + 0.5 * (o.kind == "umbrella"))
        corners = R.apply(fwd, np.array([[-1, -1], [1, -1], [-1, 1], [1, 1]]) * reach)
        obj_boxes[:, j] = np.concatenate([corners.min(axis=1), corners.max(axis=1)], axis=1)
    canvas.flush(mask_out)
    return _lighting(canvas, scene.lighting)


def render(
    scene: Scene,
    frames: int,
    size: tuple[int, int] = (64, 64),
    fps: float = 8.0,
    masks: bool = False,
    caption: bool = True,
) -> Clip:
    """Render `frames` frames of `scene` at `size` = (height, width) with full ground truth.

    Deterministic: the same scene gives the same pixels (scene.seed only times the blinks). `masks=True` also returns
    per-label visible coverage (char<i>, face<i>, hair<i>, shirt<i>, object<j>) for probes.
    """
    h, w = _check_size(size)
    if not isinstance(frames, (int, np.integer)) or not 1 <= frames <= MAX_FRAMES:
        raise OpenreelsError(f"frames must be an integer 1..{MAX_FRAMES}, got {frames!r}")
    if not fps or fps <= 0:
        raise OpenreelsError(f"fps must be positive, got {fps!r}")
    validate(scene)
    frames = int(frames)
    lay = layout(scene, (h, w))
    cam = camera_path(scene, lay, frames, fps)
    t = np.arange(frames, dtype=np.float64)
    tau = t / (frames - 1) if frames > 1 else np.zeros(1)
    sec = t / fps
    layers = {
        "background": layer_transform(cam, lay, ENV_DEPTH[scene.environment]),
        "characters": layer_transform(cam, lay, CHAR_DEPTH),
        "objects": layer_transform(cam, lay, OBJECT_DEPTH),
    }
    pixels = np.empty((frames, h, w, 3), np.uint8)
    marks = np.zeros((frames, len(scene.characters), F.NUM_LANDMARKS, 2))
    char_boxes = np.zeros((frames, len(scene.characters), 4))
    obj_boxes = np.zeros((frames, len(scene.objects), 4))
    mask_parts: list[dict[str, np.ndarray]] = []
    # long or large clips are drawn in chunks of frames so memory stays bounded (~100 MB of canvas)
    chunk = max(1, CHUNK_PIXELS // (h * w))
    for t0 in range(0, frames, chunk):
        part = slice(t0, min(t0 + chunk, frames))
        sub = {k: v[part] for k, v in layers.items()}
        mask_out: dict[str, np.ndarray] | None = {} if masks else None
        pixels[part] = _draw_frames(
            scene, lay, sub, tau[part], sec[part], marks[part], char_boxes[part], obj_boxes[part], mask_out
        )
        if mask_out is not None:
            mask_parts.append(mask_out)
    all_masks = {}
    for name in {k for m in mask_parts for k in m}:
        all_masks[name] = np.concatenate(
            [
                m.get(name, np.zeros((len(m_frames), h, w), np.float32))
                for m, m_frames in _chunks(mask_parts, frames, chunk)
            ]
        )
    camera = dict(cam)
    camera.update({f"layer/{k}": v for k, v in layers.items()})
    cap, prompt = ({}, "")
    if caption:
        from openreels.world.caption import caption_to_prompt, scene_to_caption

        cap = scene_to_caption(scene, lay)
        prompt = caption_to_prompt(cap)
    return Clip(
        frames=pixels,
        fps=float(fps),
        caption=cap,
        prompt=prompt,
        landmarks=marks,
        boxes={"characters": char_boxes, "objects": obj_boxes},
        camera=camera,
        scene=scene,
        masks=all_masks,
    )


def render_reference(
    scene: Scene,
    what: str,
    index: int = 0,
    size: tuple[int, int] = (256, 256),
) -> np.ndarray:
    """A reference image (H, W, 3) uint8 for elements-to-video: `character` (one character, medium shot,
    on white, daylight), `object` (one object filling the frame, on white) or `background` (the scene's
    empty plate in its first-frame framing and lighting)."""
    h, w = _check_size(size)
    validate(scene)
    if what == "character":
        if not 0 <= index < len(scene.characters):
            raise OpenreelsError(f"character index {index} out of range (scene has {len(scene.characters)})")
        c = scene.characters[index]
        one = scene.replace(environment="studio", backdrop="white", lighting="daylight", objects=[])
        one.characters = [Character(**{**c.__dict__, "position": "center", "action": "standing"})]
        one.shot.shot_type, one.shot.angle, one.shot.camera_motion = "medium shot", "eye level", "static"
        frame = render(one, 1, (h, w), caption=False).frames[0].copy()
        backdrop = np.asarray(V.COLORS["white"], np.uint8)
        frame[(frame == backdrop).all(axis=-1)] = 255
        return frame
    if what == "object":
        if not 0 <= index < len(scene.objects):
            raise OpenreelsError(f"object index {index} out of range (scene has {len(scene.objects)})")
        canvas = R.Canvas(1, h, w, (1.0, 1.0, 1.0))
        s = 0.6 * min(h, w) / (1.0 + 0.4 * (scene.objects[index].kind == "umbrella"))
        dy = -0.2 * s if scene.objects[index].kind in ("umbrella", "flower") else 0.0
        fwd = R.translate(w / 2, h / 2 + dy) @ R.scale(s, s)
        _object(Painter(canvas), fwd[None], scene.objects[index], "object")
        canvas.flush()
        return _lighting(canvas, "daylight")[0]
    if what == "background":
        lay = layout(scene, (h, w))
        cam = camera_path(
            scene.replace(shot=scene.shot.__class__(scene.shot.shot_type, scene.shot.angle, "static")),
            lay,
            1,
            8.0,
        )
        canvas = R.Canvas(1, h, w)
        _environment(
            Painter(canvas), canvas, scene, lay, layer_transform(cam, lay, ENV_DEPTH[scene.environment])
        )
        canvas.flush()
        return _lighting(canvas, scene.lighting)[0]
    raise OpenreelsError(f"reference must be 'character', 'object' or 'background', got {what!r}")
