"""The web studio's pages and its extra read-only routes (openreels.serve.web), through the test client:
each answers its owner and 404s anyone else, as every route of the API does."""

from __future__ import annotations

import io
import wave

API = "/api/v1"


def test_pages_are_served_at_the_root(server) -> None:
    c = server.client
    index = c.get("/")
    assert index.status_code == 200 and index.headers["content-type"].startswith("text/html")
    assert '<script type="module" src="/web/app.js">' in index.text
    for name, kind in (("app.js", "javascript"), ("lib.js", "javascript"), ("style.css", "text/css")):
        r = c.get(f"/web/{name}")
        assert r.status_code == 200 and kind in r.headers["content-type"], name
    # Every module the pages import is there (a missing one would only show in the browser).
    for name in ("project.js", "projects.js", "tools.js"):
        assert c.get(f"/web/{name}").status_code == 200
    assert c.get("/web/../app.py").status_code == 404


def test_models_and_choices(server) -> None:
    c, alice = server.client, server.token("alice")
    assert c.get(f"{API}/models").status_code == 401
    models = {m["id"]: m for m in c.get(f"{API}/models", headers=alice).json()["models"]}
    tiny = models["openreels-tiny"]
    assert tiny["size"] == [128, 128] and tiny["sizes"]["9:16"] == [160, 96] and "t2v" in tiny["tasks"]
    assert "compose" in models["openreels-a2-tiny"]["tasks"]
    words = c.get(f"{API}/studio/choices", headers=alice).json()
    assert "close-up" in words["shot_type"] and "dolly in" in words["camera_motion"]
    assert words["aspect"] == ["16:9", "9:16", "1:1"] and "dissolve" in words["transition"]


def test_outline_voice_and_thumbnail_belong_to_the_owner(kit, server) -> None:
    from PIL import Image

    c, alice, bob = server.client, server.token("alice"), server.token("bob")
    settings = kit.STAGE | {"size": None, "aspect": "9:16"}
    r = c.post(
        f"{API}/projects", json={"name": "w", "fountain": kit.SCREENPLAY, "settings": settings}, headers=alice
    )
    assert r.status_code == 201, r.text
    pid = r.json()["id"]
    assert r.json()["settings"]["aspect"] == "9:16"

    outline = c.get(f"{API}/projects/{pid}/script/outline", headers=alice).json()
    beats = outline["scenes"][0]["beats"]
    assert outline["characters"] == ["NOOR", "SAM"]
    hello = next(b for b in beats if b["type"] == "line")
    assert hello["character"] == "NOOR" and hello["text"] == "Hello!" and hello["parenthetical"] == "happy"
    assert kit.SCREENPLAY.splitlines()[hello["line_number"] - 1] == "Hello!"  # where the page edits it

    voice = c.get(f"{API}/projects/{pid}/cast/NOOR/voice.wav", headers=alice)
    assert voice.status_code == 200 and voice.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(voice.content)) as w:
        assert w.getnframes() / w.getframerate() > 0.2
    assert c.get(f"{API}/projects/{pid}/cast/NOBODY/voice.wav", headers=alice).status_code == 404

    thumb_url = f"{API}/projects/{pid}/storyboard/shots/s01-01/thumb.png"
    assert c.get(thumb_url, headers=alice).status_code == 409  # not planned yet
    c.post(f"{API}/projects/{pid}/plan", headers=alice)
    server.run_jobs()
    thumb = c.get(thumb_url, headers=alice)
    assert thumb.status_code == 200, thumb.text
    assert Image.open(io.BytesIO(thumb.content)).size == (96, 160)  # (width, height): 9:16 of the tiny model
    assert c.get(f"{API}/projects/{pid}/storyboard/shots/nope/thumb.png", headers=alice).status_code == 404

    for url in (
        f"{API}/projects/{pid}/script/outline",
        f"{API}/projects/{pid}/cast/NOOR/voice.wav",
        thumb_url,
    ):
        r = c.get(url, headers=bob)
        assert r.status_code == 404 and "error" in r.json(), url
