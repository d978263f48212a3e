"""Short drama: screenplay -> cast -> storyboard -> shots -> voices -> edited episode, in a project folder.

project = new_project("ep1", "examples/the_red_umbrella.fountain")
project.plan()                 # cast.yaml + storyboard.yaml (edit them, then render)
report = project.render()      # ep1/episode.mp4, episode.srt, storyboard.png
"""

from openreels.studio.cast import Cast, Character, build_cast
from openreels.studio.project import Project, RenderReport, new_project
from openreels.studio.render import Settings, render_reference, render_shot, render_stage_shot
from openreels.studio.screenplay import Screenplay, parse_fountain
from openreels.studio.storyboard import Shot, Storyboard, build_storyboard, caption_prompt
from openreels.studio.writers import write_screenplay

__all__ = [
    "Cast",
    "Character",
    "Project",
    "RenderReport",
    "Screenplay",
    "Settings",
    "Shot",
    "Storyboard",
    "build_cast",
    "build_storyboard",
    "caption_prompt",
    "new_project",
    "parse_fountain",
    "render_reference",
    "render_shot",
    "render_stage_shot",
    "write_screenplay",
]
