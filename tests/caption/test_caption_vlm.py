"""The vlm backend and the LLM enhancer against a fake OpenAI-compatible server: good, malformed, repairable,
slow and failing answers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from openreels.caption.vlm import caption_vlm
from openreels.cli import main
from openreels.errors import OpenreelsError
from openreels.world import render, sample_scene


@pytest.fixture(scope="module")
def frames():
    return render(sample_scene(2), 9, (64, 64)).frames


def test_good_answer_is_validated_and_sent_as_schema_with_frames(endpoint, good_caption, frames):
    endpoint.script = [("json", good_caption)]
    cap = caption_vlm(frames, endpoint.url, "fake-vl", key="secret")
    assert cap["shot_type"] == "close-up" and cap["subjects"][0]["expression"] == "laughing"
    (req,) = endpoint.requests
    assert req["path"] == "/v1/chat/completions" and req["auth"] == "Bearer secret"
    body = req["body"]
    assert body["model"] == "fake-vl" and body["response_format"]["type"] == "json_schema"
    images = [p for p in body["messages"][1]["content"] if p["type"] == "image_url"]
    assert len(images) == 4 and images[0]["image_url"]["url"].startswith("data:image/png;base64,")


def test_fenced_answer_with_loose_words_is_repaired(endpoint, good_caption, frames):
    loose = json.loads(json.dumps(good_caption))
    loose["shot_type"] = "Close-Up"
    loose["shot_angle"] = "eye-level"
    loose["subjects"][0]["position"] = "centre"
    loose["subjects"][0]["sub-type"] = "female"
    endpoint.script = [("text", "Sure! ```json\n" + json.dumps(loose) + "\n```")]
    cap = caption_vlm(frames, endpoint.url, "m")
    assert (cap["shot_type"], cap["shot_angle"]) == ("close-up", "eye level")
    assert cap["subjects"][0]["position"] == "center" and cap["subjects"][0]["sub-type"] == "woman"


def test_malformed_then_invalid_then_good_asks_again_with_the_problems(endpoint, good_caption, frames):
    wrong = json.loads(json.dumps(good_caption))
    wrong["camera_motion"] = "spinning wildly"
    endpoint.script = [("text", "{not json"), ("json", wrong), ("json", good_caption)]
    cap = caption_vlm(frames, endpoint.url, "m", retries=2)
    assert cap["camera_motion"] == "static" and len(endpoint.requests) == 3
    last = endpoint.requests[2]["body"]["messages"]
    assert "camera_motion 'spinning wildly' is not one of" in last[-1]["content"]


def test_slow_answer_times_out_and_is_retried(endpoint, good_caption, frames):
    endpoint.script = [("slow", 2.0, good_caption), ("json", good_caption)]
    cap = caption_vlm(frames, endpoint.url, "m", timeout=0.5, retries=1)
    assert cap["lighting"] == "warm" and len(endpoint.requests) == 2


def test_always_invalid_or_slow_fails_in_one_line(endpoint, good_caption, frames):
    endpoint.script = [("text", "I cannot see any video."), ("slow", 2.0, good_caption)]
    with pytest.raises(OpenreelsError, match="no valid caption in 2 attempts") as err:
        caption_vlm(frames, endpoint.url, "m", timeout=0.5, retries=1)
    assert "\n" not in str(err.value)


def test_server_without_structured_output_gets_plain_json_request(endpoint, good_caption, frames):
    endpoint.script = [("http", 400), ("json", good_caption)]
    caption_vlm(frames, endpoint.url, "m")
    assert "response_format" in endpoint.requests[0]["body"]
    assert "response_format" not in endpoint.requests[1]["body"]


def test_unreachable_or_bad_url_is_one_line():
    frames = np.zeros((3, 64, 64, 3), np.uint8)
    with pytest.raises(OpenreelsError, match="http"):
        caption_vlm(frames, "localhost:1", "m")
    with pytest.raises(OpenreelsError, match="cannot reach"):
        caption_vlm(frames, "http://127.0.0.1:9/v1", "m", timeout=0.5, retries=0)


def test_cli_vlm_folder_to_jsonl(endpoint, good_caption, tmp_path, capsys):
    from openreels.media import write_video

    for i in range(2):
        write_video(tmp_path / f"c{i}.npz", render(sample_scene(i), 5, (64, 64)).frames, 8.0)
    endpoint.script = [("json", good_caption), ("text", "oops"), ("json", good_caption)]
    assert main(["caption", str(tmp_path), "-b", "vlm", "--url", endpoint.url, "-m", "m", "-q"]) == 0
    lines = (tmp_path / "captions.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["video"] for r in records] == ["c0.npz", "c1.npz"]
    assert all(
        r["backend"] == "vlm" and r["prompt"].startswith("Close-up, eye level, static shot.") for r in records
    )
    assert main(["caption", str(tmp_path), "-b", "vlm"]) == 2  # no --url: one line naming the fix
    assert "needs --url" in capsys.readouterr().err


def test_llm_enhancer_keeps_the_users_fields(endpoint, good_caption):
    from openreels.caption import enhance_llm

    drift = json.loads(json.dumps(good_caption))
    drift["backdrop"] = "purple"  # the user asked for red
    drift["subjects"][0]["expression"] = "happy"  # and laughing
    endpoint.script = [("text", "no json here"), ("json", drift)]
    out = enhance_llm("a woman laughing, red backdrop", endpoint.url, "llm")
    assert out.caption["backdrop"] == "red" and out.caption["subjects"][0]["expression"] == "laughing"
    assert "red backdrop" in out.prompt and "laughing" in out.prompt and "warm light" in out.prompt
    assert out.enhancer.startswith("llm llm at") and len(endpoint.requests) == 2
    schema = endpoint.requests[0]["body"]["response_format"]["json_schema"]["schema"]
    assert "shot_position" not in schema["required"]
