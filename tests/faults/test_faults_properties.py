"""Property-based tests of the parsers every request goes through: whatever the input, the answer is a
valid value or an OpenreelsError with one line, never another exception and never a NaN let through."""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openreels.cli.common import parse_size
from openreels.errors import OpenreelsError
from openreels.limits import MAX_SEED, check_finite, check_seed
from openreels.pipelines.request import SIDECAR_FIELDS, SIDECAR_INPUTS, GenerateRequest, load_sidecar

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _refused(call) -> OpenreelsError | None:
    try:
        call()
    except OpenreelsError as exc:
        assert str(exc) and "\n" not in str(exc)
        return exc
    return None


@FAST
@given(st.text(max_size=20))
def test_parse_size_any_text_is_a_positive_size_or_one_line(text):
    try:
        height, width = parse_size(text)
    except OpenreelsError as exc:
        assert "--size" in str(exc) and "\n" not in str(exc)
    else:
        assert height >= 1 and width >= 1


@FAST
@given(
    st.integers(-(10**12), 10**12), st.integers(-(10**12), 10**12), st.sampled_from(["x", "X", "*", " x "])
)
def test_parse_size_numbers(height, width, sep):
    text = f"{height}{sep}{width}"
    if height >= 1 and width >= 1:
        assert parse_size(text) == (height, width)
        assert parse_size(str(height)) == (height, height)
    else:
        assert "must be positive" in str(_refused(lambda: parse_size(text)))


@FAST
@given(st.integers(-(2**70), 2**70), st.integers(1, 8))
def test_seeds_outside_what_generators_take_are_refused(seed, count):
    ok = 0 <= seed and seed + count - 1 <= MAX_SEED
    error = _refused(lambda: check_seed(seed, count))
    assert (error is None) == ok


@FAST
@given(st.floats(allow_nan=True, allow_infinity=True))
def test_check_finite(value):
    assert (_refused(lambda: check_finite(value, "--guidance")) is None) == math.isfinite(value)


# The request itself: a number that is not finite, a frame count or seed out of range, never gets through.
@FAST
@given(
    guidance=st.one_of(st.none(), st.floats()),
    shift=st.one_of(st.none(), st.floats()),
    frames=st.one_of(st.none(), st.integers(-5, 10**9)),
    seed=st.integers(-(2**64), 2**64),
)
def test_generate_request_is_valid_or_refused_in_one_line(guidance, shift, frames, seed):
    made = []
    error = _refused(
        lambda: made.append(
            GenerateRequest(
                prompt="a", guidance=guidance, shift=shift, frames=frames, seed=seed, size=(32, 32)
            )
        )
    )
    if error is None:
        request = made[0]
        assert 0 <= request.seed <= MAX_SEED
        assert request.guidance is None or math.isfinite(request.guidance)
        assert request.shift is None or (math.isfinite(request.shift) and request.shift > 0)
        assert request.frames is None or 1 <= request.frames < 10**9
        json.dumps(request.settings(), allow_nan=False)  # what the sidecar will hold is valid JSON


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats() | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3),
    max_leaves=8,
)
SIDECAR = st.one_of(
    JSON,
    st.dictionaries(st.sampled_from([*SIDECAR_FIELDS, "inputs", "task"]), JSON, max_size=5),
    st.fixed_dictionaries(
        {"prompt": st.just("a")},
        optional={"inputs": st.dictionaries(st.sampled_from(SIDECAR_INPUTS), JSON, max_size=2)},
    ),
)


@FAST
@given(SIDECAR)
def test_any_sidecar_loads_into_a_request_or_is_refused_in_one_line(recorded):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "a.json"
        path.write_text(json.dumps(recorded))  # NaN/Infinity too: Python's json reads them back
        loaded = []
        if _refused(lambda: loaded.append(load_sidecar(path))) is not None:
            return
    settings_, inputs = loaded[0]
    assert set(settings_) <= set(SIDECAR_FIELDS) and set(inputs) <= set(SIDECAR_INPUTS)
    assert all(isinstance(v, str) and v for v in inputs.values())
    settings_.setdefault("prompt", "a")
    _refused(lambda: GenerateRequest(**settings_))


@pytest.mark.parametrize("text", ["NaN", "Infinity", "-Infinity"])
def test_a_sidecar_with_a_non_finite_number_is_refused(tmp_path, text):
    path = tmp_path / "a.json"
    path.write_text(f'{{"prompt": "a", "guidance": {text}}}')
    assert "guidance" in str(_refused(lambda: load_sidecar(path)))
