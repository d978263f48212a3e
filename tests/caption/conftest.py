"""A fake OpenAI-compatible chat endpoint on 127.0.0.1: each request takes the next scripted answer
(good JSON, malformed text, a slow answer, an HTTP error) and is recorded for the test to inspect."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class FakeEndpoint:
    def __init__(self) -> None:
        # ("json", obj) | ("text", str) | ("slow", seconds, obj) | ("http", code)
        self.script: list[tuple] = []
        self.requests: list[dict] = []
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep pytest's output clean
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                fake.requests.append(
                    {"path": self.path, "body": body, "auth": self.headers.get("Authorization")}
                )
                step = fake.script.pop(0) if fake.script else ("http", 500)
                if step[0] == "http":
                    self.send_response(step[1])
                    self.end_headers()
                    return
                if step[0] == "slow":
                    time.sleep(step[1])
                    step = ("json", step[2])
                text = step[1] if step[0] == "text" else json.dumps(step[1])
                reply = {"choices": [{"message": {"role": "assistant", "content": text}}]}
                data = json.dumps(reply).encode()
                try:
                    self.send_response(200)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):  # the client gave up on a slow answer
                    pass

        return Handler


@pytest.fixture
def endpoint():
    fake = FakeEndpoint()
    yield fake
    fake.server.shutdown()
    fake.server.server_close()


GOOD = {
    "subjects": [
        {
            "type": "human",
            "sub-type": "woman",
            "skin": "light",
            "hair_style": "long",
            "hair_color": "red",
            "shirt_color": "blue",
            "expression": "laughing",
            "intensity": "strong",
            "action": "waving",
            "position": "center",
        }
    ],
    "shot_type": "close-up",
    "shot_angle": "eye level",
    "shot_position": "center",
    "camera_motion": "static",
    "environment": "studio",
    "backdrop": "teal",
    "lighting": "warm",
}


@pytest.fixture
def good_caption():
    return json.loads(json.dumps(GOOD))
