"""Drama projects through the API: create from a story or an uploaded screenplay, edit script, cast and a
shot, render one shot, then the whole episode (the shot rendered alone is reused), and download it."""

from __future__ import annotations

import io

API = "/api/v1"


def _job(server, headers: dict, job: dict) -> dict:
    assert server.run_jobs() >= 1
    done = server.client.get(f"{API}/jobs/{job['id']}", headers=headers).json()
    assert done["state"] == "done", done
    return done


def test_project_from_a_story_edited_and_rendered_shot_by_shot(kit, server) -> None:
    from PIL import Image

    from openreels.media.video import read_video

    c, alice = server.client, server.token("alice")
    r = c.post(
        f"{API}/projects",
        json={
            "name": "ep1",
            "story": "Noor waves at Sam. Sam smiles.",
            "writer": "builtin",
            "settings": kit.STAGE,
        },
        headers=alice,
    )
    assert r.status_code == 201, r.text
    project = r.json()
    pid = project["id"]
    assert project["settings"]["renderer"] == "stage" and not project["planned"] and not project["episode"]
    assert "INT." in c.get(f"{API}/projects/{pid}/script", headers=alice).json()["fountain"]

    bad = c.put(f"{API}/projects/{pid}/script", json={"fountain": ""}, headers=alice)
    assert bad.status_code == 422 and "error" in bad.json()
    assert (
        c.put(f"{API}/projects/{pid}/script", json={"fountain": kit.SCREENPLAY}, headers=alice).status_code
        == 200
    )
    cast = c.get(f"{API}/projects/{pid}/cast", headers=alice).json()
    assert [ch["name"] for ch in cast["characters"]] == ["NOOR", "SAM"]
    noor = cast["characters"][0]
    assert noor["shirt_color"] == "yellow" and noor["voice"]["pitch"] > 0
    ref = c.get(noor["reference_url"], headers=alice)
    assert ref.status_code == 200, ref.text
    assert ref.headers["content-type"] == "image/png" and Image.open(io.BytesIO(ref.content)).size == (64, 64)
    noor["shirt_color"] = "purple"
    assert (
        c.put(f"{API}/projects/{pid}/cast", json=cast, headers=alice).json()["characters"][0]["shirt_color"]
        == "purple"
    )
    noor["kind"] = "dragon"
    assert c.put(f"{API}/projects/{pid}/cast", json=cast, headers=alice).status_code == 422
    r = c.patch(f"{API}/projects/{pid}/settings", json={"fps": -1}, headers=alice)
    assert r.status_code == 422 and "fps" in r.json()["error"]

    assert c.get(f"{API}/projects/{pid}/storyboard", headers=alice).status_code == 409
    _job(server, alice, c.post(f"{API}/projects/{pid}/plan", headers=alice).json())
    board = c.get(f"{API}/projects/{pid}/storyboard", headers=alice).json()
    shots = board["shots"]
    assert len(shots) >= 3 and c.get(f"{API}/projects/{pid}", headers=alice).json()["planned"]

    edited = shots[0] | {"caption": shots[0]["caption"] | {"camera_motion": "pan left"}}
    r = c.put(f"{API}/projects/{pid}/storyboard/shots/{shots[0]['id']}", json=edited, headers=alice)
    assert r.status_code == 200 and r.json()["caption"]["camera_motion"] == "pan left"
    wrong = shots[0] | {"caption": shots[0]["caption"] | {"camera_motion": "somersault"}}
    assert (
        c.put(
            f"{API}/projects/{pid}/storyboard/shots/{shots[0]['id']}", json=wrong, headers=alice
        ).status_code
        == 422
    )
    assert c.post(f"{API}/projects/{pid}/shots/nope/render", headers=alice).status_code == 404

    one = _job(
        server, alice, c.post(f"{API}/projects/{pid}/shots/{shots[1]['id']}/render", headers=alice).json()
    )
    assert one["result"]["shot"] == shots[1]["id"] and not one["result"]["cached"]
    clip, _ = read_video(server.data / "jobs" / one["id"] / "shot.mp4")
    assert clip.shape[1:] == (64, 64, 3) and len(clip) == one["result"]["frames"]

    assert c.get(f"{API}/projects/{pid}/files/episode.mp4", headers=alice).status_code == 404
    full = _job(server, alice, c.post(f"{API}/projects/{pid}/render", headers=alice).json())
    report = full["result"]["report"]
    assert report["shots"] == len(shots) and report["cached"] == 1 and report["rendered"] == len(shots) - 1
    files = {f["name"]: f for f in full["result"]["files"]}
    assert set(files) == {"episode.mp4", "episode.srt", "storyboard.png"}
    episode = c.get(files["episode.mp4"]["url"], headers=alice | {"Range": "bytes=0-"})
    assert episode.status_code == 206 and episode.headers["content-type"] == "video/mp4"
    srt = c.get(f"{API}/projects/{pid}/files/episode.srt", headers=alice)
    assert "NOOR: Hello!" in srt.text and srt.headers["content-type"].startswith("application/x-subrip")
    assert c.get(f"{API}/projects/{pid}/files/render.json", headers=alice).json()["shots"] == len(shots)
    status = c.get(f"{API}/projects/{pid}", headers=alice).json()
    assert status["episode"] and status["episode_current"] and status["last_render"]["cached"] == 1
    kinds = [j["kind"] for j in c.get(f"{API}/projects/{pid}/jobs", headers=alice).json()["jobs"]]
    assert sorted(kinds) == ["plan", "render", "shot"]


def test_project_from_an_uploaded_fountain_file(kit, server) -> None:
    c, alice = server.client, server.token("alice")
    r = c.post(
        f"{API}/projects/fountain",
        files={"file": ("wave.fountain", kit.SCREENPLAY.encode())},
        data={"settings": '{"renderer": "stage"}'},
        headers=alice,
    )
    assert r.status_code == 201, r.text
    assert r.json()["title"] == "Wave" and r.json()["name"] == "wave"
    bad = c.post(
        f"{API}/projects/fountain", files={"file": ("x.fountain", b"\xff\xfe\x00bad")}, headers=alice
    )
    assert bad.status_code == 415 and "UTF-8" in bad.json()["error"]
    both = c.post(f"{API}/projects", json={"story": "a", "fountain": "b"}, headers=alice)
    assert both.status_code == 422 and "exactly one" in both.json()["error"]
    assert len(list((server.data / "projects").iterdir())) == 1  # refused projects leave no folder
