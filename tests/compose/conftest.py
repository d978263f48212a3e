"""One tiny random SkyReels-A2 folder (published layout) per test session, and the pipeline loaded from it."""

import numpy as np
import pytest


@pytest.fixture(scope="session")
def a2_dir(tmp_path_factory):
    from openreels.pipelines.a2 import write_random_a2_layout

    return write_random_a2_layout(tmp_path_factory.mktemp("a2") / "SkyReels-A2-tiny", seed=0)


@pytest.fixture(scope="session")
def a2_pipe(a2_dir):
    from openreels.pipelines.compose import load_compose_pipeline

    return load_compose_pipeline(a2_dir)


@pytest.fixture(scope="session")
def ref_images():
    """A person-like, an object-like and a background-like picture of different sizes."""
    rng = np.random.default_rng(7)
    person = np.full((60, 30, 3), 255, np.uint8)
    person[10:50, 8:22] = (220, 40, 40)
    thing = np.full((20, 20, 3), 255, np.uint8)
    thing[5:15, 5:15] = (40, 80, 220)
    backdrop = rng.integers(0, 255, (48, 80, 3), dtype=np.uint8)
    return [person, thing, backdrop]
