"""A project's aspect option (short dramas are vertical) reaches the shots, the cast sheets and the episode."""

from __future__ import annotations

import av
import pytest

from openreels.errors import OpenreelsError
from openreels.studio import Project, new_project
from openreels.studio.render import Settings, aspect_size


def test_aspect_keeps_the_pixel_count_in_the_new_shape() -> None:
    assert aspect_size((128, 128), None) == (128, 128)
    assert aspect_size((128, 128), "9:16") == (176, 96)
    assert aspect_size((544, 960), "9:16") == (960, 544)  # SkyReels 540P turned upright
    assert aspect_size((544, 960), "16:9") == (544, 960)
    assert aspect_size((64, 64), "1:1", multiple=16) == (64, 64)
    with pytest.raises(OpenreelsError, match="--aspect"):
        Settings.checked(aspect="4:3")


def test_vertical_project_renders_a_vertical_episode(tmp_path, example_path, fake_tts) -> None:
    settings = Settings(renderer="stage", aspect="9:16", fps=8, window=17, scale=1, crossfade=0)
    new_project(tmp_path / "ep", example_path, settings=settings)
    project = Project(tmp_path / "ep", tts=fake_tts)
    assert project.settings.resolve().size == (160, 96)  # the tiny model takes multiples of 32
    report = project.render()
    with av.open(report.episode) as container:
        stream = container.streams.video[0]
        assert (stream.height, stream.width) == (160, 96)
        assert next(container.decode(video=0)).to_ndarray(format="rgb24").std() > 5  # a drawn picture
