"""The synthetic stage: a seeded, layered 2-D world of people, objects and camera moves, rendered with
its ground truth (structured caption, prompt, face landmarks, boxes, camera), in the words of the
vocabulary contract (WORLD.md, mirrored in `openreels.world.vocab`).

    from openreels.world import sample_scene, render
    clip = render(sample_scene(0, backdrop="teal", expression="happy"), frames=17, size=(64, 64))
    clip.frames, clip.prompt, clip.caption, clip.landmarks

This package never imports torch; `openreels.world.dataset` (the training stream) does.
"""

from openreels.world import vocab
from openreels.world.caption import (
    caption_to_prompt,
    parse_prompt,
    scene_from_caption,
    scene_from_prompt,
    scene_to_caption,
    unknown_words,
)
from openreels.world.face import NUM_LANDMARKS
from openreels.world.renderer import Clip, layout, render, render_reference
from openreels.world.scene import (
    HELD_OUT,
    Character,
    Scene,
    SceneObject,
    Shot,
    is_held_out,
    sample_heldout_scene,
    sample_scene,
)

__all__ = [
    "HELD_OUT",
    "NUM_LANDMARKS",
    "Character",
    "Clip",
    "Scene",
    "SceneObject",
    "Shot",
    "caption_to_prompt",
    "is_held_out",
    "layout",
    "parse_prompt",
    "render",
    "render_reference",
    "sample_heldout_scene",
    "sample_scene",
    "scene_from_caption",
    "scene_from_prompt",
    "scene_to_caption",
    "unknown_words",
    "vocab",
]
