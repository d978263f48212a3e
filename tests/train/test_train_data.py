"""The chunked background renderer gives the same seeded training set however many workers render it."""

from openreels.train.data import BackgroundRenderer
from openreels.train.recipes import _StageFactory


def test_the_rendered_set_does_not_depend_on_the_number_of_workers():
    factory = _StageFactory(64, 3, 8.0)
    inline = BackgroundRenderer(factory, 6, seed=1, workers=0, chunk=3).result()
    parallel = BackgroundRenderer(factory, 6, seed=1, workers=2, chunk=3).result()
    assert len(set(inline.prompts)) == 6
    assert parallel.prompts == inline.prompts
    assert (parallel.frames == inline.frames).all()
