"""The offline prompt enhancer, `openreels enhance` and `generate --enhance`'s sidecar."""

from __future__ import annotations

import json

import pytest

from openreels.caption import enhance, flat_fields
from openreels.cli import main
from openreels.world import parse_prompt

SHORT = [
    "a woman laughing, red backdrop",
    "A bald man waving at the beach, zoom in",
    "close-up of a crying child in a green shirt, dim light",
    "two people talking in a room with blue walls",
]


@pytest.mark.parametrize("prompt", SHORT)
def test_keeps_every_field_and_fills_the_rest(prompt):
    out = enhance(prompt, seed=3)
    given = flat_fields(parse_prompt(prompt))
    got = flat_fields(parse_prompt(out.prompt))
    assert {k: got.get(k) for k in given if not k.startswith("object")} == {
        k: v for k, v in given.items() if not k.startswith("object")
    }
    for key in ("shot_type", "shot_angle", "camera_motion", "environment", "lighting", "main.expression"):
        assert key in got, (key, out.prompt)  # the full structure, readable back from the prompt
    assert set(out.kept) & set(out.filled) == set()


def test_seeded_reproducible_and_unknown_words_kept():
    a, b, c = enhance(SHORT[0], 0), enhance(SHORT[0], 0), enhance(SHORT[0], 1)
    assert a.prompt == b.prompt and a.prompt != c.prompt
    odd = enhance("a child jumping in a kitchen", 0)
    assert odd.unknown_words == ["kitchen"] and odd.prompt.endswith("a child jumping in a kitchen.")


def test_enhance_cli(capsys):
    assert main(["enhance", SHORT[0], "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["original_prompt"] == SHORT[0] and data["enhanced_prompt"] == enhance(SHORT[0]).prompt
    assert "main.expression" in data["kept"] and "shot_type" in data["filled"]
    assert main(["enhance", "  "]) == 2
    assert "prompt to enhance is empty" in capsys.readouterr().err
    assert main(["enhance", "x", "--enhancer", "http://127.0.0.1:9/v1"]) == 2
    assert "--enhancer-model" in capsys.readouterr().err


def test_generate_enhance_records_both_prompts(tmp_path, capsys):
    out = tmp_path / "a.mp4"
    args = [
        "generate",
        SHORT[0],
        "--enhance",
        "--seed",
        "2",
        "--size",
        "32x32",
        "--frames",
        "9",
        "--steps",
        "2",
    ]
    assert main([*args, "-o", str(out), "-q"]) == 0, capsys.readouterr().err
    meta = json.loads(out.with_suffix(".json").read_text())
    assert meta["original_prompt"] == SHORT[0]
    assert meta["prompt"] == meta["enhanced_prompt"] == enhance(SHORT[0], 2).prompt
    assert meta["enhancer"] == "stage (seed 2)"


def test_drama_shot_override_is_enhanced_from_its_caption():
    from openreels.studio.storyboard import Caption, Shot, Subject

    sheet = dict(name="ANA", skin="dark", hair_color="black", hair_style="long", shirt_color="yellow")
    caption = Caption(
        subjects=[Subject(**{"sub-type": "woman"}, **sheet)],
        shot_type="close-up",
        camera_motion="dolly in",
        environment="park",
        lighting="warm",
    )
    shot = Shot(id="s1", scene=1, purpose="action", duration=2, seed=3, caption=caption)
    plain = shot.model_copy(update={"prompt_override": "a woman waving at the beach"})
    assert plain.prompt == "a woman waving at the beach"  # free text stays free unless asked
    enhanced = plain.model_copy(update={"enhance": True})
    got = flat_fields(parse_prompt(enhanced.prompt))
    assert got["main.action"] == "waving" and got["environment"] == "beach"  # the user's words
    assert got["shot_type"] == "close-up" and got["camera_motion"] == "dolly in"  # the shot's caption
    assert got["main.shirt_color"] == "yellow" and got["main.hair_color"] == "black"  # the cast sheet


def test_effect_prompts_are_short_and_readable():
    from openreels.caption.enhance_effect import short_prompts

    prompts = short_prompts(8)
    assert prompts == short_prompts(8) and len(set(prompts)) == 8
    for p in prompts:
        named = flat_fields(parse_prompt(p))
        # a kind and one or two more fields: what the clip is scored on, and what the enhancer keeps
        others = set(named) - {"people", "main.kind", "environment", "object0.kind", "object1.kind"}
        assert "main.kind" in named and 1 <= len(others) <= 2, (p, named)
        assert not {"shot_type", "lighting", "shot_angle"} & set(named), p  # left for the enhancer
