"""Story -> screenplay: the built-in writer, and the LLM writer against a fake OpenAI-compatible server."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from openreels.cli import main
from openreels.errors import OpenreelsError
from openreels.studio import Project, parse_fountain, write_screenplay

STORY = """Maya waits in the park with an umbrella. Leo arrives late. "You found it!" Maya says.

That night in the kitchen Leo is angry. His grandmother gave the umbrella away. Maya has a plan.

At the beach they find it under the pier. "It was here all along?" Leo asks."""

LLM_SCREENPLAY = """Here is your screenplay:

```fountain
Title: Umbrella

EXT. PARK - DAY

MAYA, a woman with long red hair in a blue shirt, waits.

MAYA
(happy)
You came!

LEO
Of course.
```
"""


def test_builtin_writer_is_deterministic_and_parses() -> None:
    text, writer = write_screenplay(STORY, "auto", env={})
    assert writer == "builtin" and write_screenplay(STORY, "builtin", env={})[0] == text
    sp = parse_fountain(text)
    assert [s.heading for s in sp.scenes] == ["EXT. PARK - DAY", "INT. KITCHEN - NIGHT", "EXT. BEACH - DAY"]
    assert set(sp.characters) == {"MAYA", "LEO"}
    assert "MAYA, a woman with" in text and "LEO, a man with" in text  # "His grandmother" follows Leo
    sam = write_screenplay("Sam walks into the cafe. He orders tea. Ana smiles at him.", "builtin", env={})[0]
    assert "SAM, a man with" in sam and "Title: Sam and Ana" in sam  # "He orders tea" follows Sam
    lines = [(ln.character, ln.text) for s in sp.scenes for ln in s.lines]
    assert ("MAYA", "You found it!") in lines and ("LEO", "It was here all along?") in lines
    with pytest.raises(OpenreelsError, match="story is empty"):
        write_screenplay("  \n", "builtin", env={})


class _FakeLLM(BaseHTTPRequestHandler):
    requests: list[dict] = []
    reply: bytes = b""
    status = 200

    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
        type(self).requests.append(
            {"path": self.path, "auth": self.headers.get("Authorization"), "body": body}
        )
        self.send_response(self.status)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(self.reply)

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def llm_server():
    _FakeLLM.requests, _FakeLLM.status = [], 200
    _FakeLLM.reply = json.dumps(
        {"choices": [{"message": {"role": "assistant", "content": LLM_SCREENPLAY}}]}
    ).encode()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _FakeLLM)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1"
    server.shutdown()
    server.server_close()


def test_llm_writer_against_local_server(llm_server, tmp_path, monkeypatch, capsys) -> None:
    env = {
        "OPENREELS_LLM_URL": llm_server,
        "OPENREELS_LLM_MODEL": "tiny-writer",
        "OPENREELS_LLM_KEY": "sekret",
    }
    text, writer = write_screenplay(STORY, "auto", env=env)
    assert writer == "llm:tiny-writer"
    assert text.startswith("Title: Umbrella") and "```" not in text
    (request,) = _FakeLLM.requests
    assert request["path"] == "/v1/chat/completions" and request["auth"] == "Bearer sekret"
    assert request["body"]["model"] == "tiny-writer" and request["body"]["temperature"] == 0
    assert request["body"]["messages"][-1] == {"role": "user", "content": STORY}

    # Through the CLI: the project records and prints which writer ran.
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    story = tmp_path / "story.txt"
    story.write_text(STORY)
    assert main(["drama", "new", str(tmp_path / "p"), "--from", str(story), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["writer"] == "llm:tiny-writer" and out["cast"] == ["MAYA", "LEO"]
    assert Project(tmp_path / "p").meta.writer == "llm:tiny-writer"
    assert (tmp_path / "p" / "story.txt").read_text() == STORY


def test_llm_writer_failures_are_one_line(llm_server) -> None:
    env = {"OPENREELS_LLM_URL": llm_server, "OPENREELS_LLM_MODEL": "m"}
    _FakeLLM.status = 500
    with pytest.raises(OpenreelsError, match="answered HTTP 500; check OPENREELS_LLM_URL"):
        write_screenplay(STORY, "llm", env=env)
    _FakeLLM.status, _FakeLLM.reply = 200, b'{"unexpected": true}'
    with pytest.raises(OpenreelsError, match="did not answer like an OpenAI chat API"):
        write_screenplay(STORY, "llm", env=env)
    _FakeLLM.reply = json.dumps({"choices": [{"message": {"content": "MAYA\nHi.\n"}}]}).encode()
    with pytest.raises(
        OpenreelsError, match="line 2: dialogue before .*llm:m writer wrote an unusable screenplay"
    ):
        write_screenplay(STORY, "llm", env=env)
    with pytest.raises(OpenreelsError, match="needs OPENREELS_LLM_URL"):
        write_screenplay(STORY, "llm", env={})
