"""Folder captioning: JSONL, resume after a kill (nothing twice, nothing half), bad files, bad arguments."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from openreels.caption.run import caption_folder, done_in
from openreels.cli import main
from openreels.media import write_video
from openreels.world import render, sample_scene

KILLABLE = """
import sys, time
from pathlib import Path
from openreels.caption.run import caption_folder
def slow(frames, fps):
    time.sleep(0.4)
    return {"subjects": [], "shot_type": "close-up"}
for _ in caption_folder(Path(sys.argv[1]), Path(sys.argv[2]), slow, "slow"):
    pass
"""


@pytest.fixture
def folder(tmp_path):
    root = tmp_path / "clips"
    (root / "sub").mkdir(parents=True)
    for i in range(5):
        name = root / ("sub" if i == 4 else "") / f"c{i}.npz"
        write_video(name, render(sample_scene(i), 3, (64, 64)).frames, 8.0)
    return root


def test_killed_run_resumes_without_duplicates_or_torn_lines(folder, tmp_path):
    jsonl = tmp_path / "out" / "caps.jsonl"
    env = dict(os.environ, OMP_NUM_THREADS="1")
    proc = subprocess.Popen([sys.executable, "-c", KILLABLE, str(folder), str(jsonl)], env=env)
    deadline = time.time() + 60
    while time.time() < deadline and (not jsonl.exists() or jsonl.read_text().count("\n") < 2):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    first = jsonl.read_text().splitlines()
    assert 2 <= len(first) < 5
    with open(jsonl, "a") as f:  # what a kill in the middle of a write would leave
        f.write('{"video": "c9.npz", "capt')
    calls = []

    def count(frames, fps):
        calls.append(1)
        return {"subjects": [], "shot_type": "wide shot"}

    steps = list(caption_folder(folder, jsonl, count, "count"))
    assert steps[-1][:2] == (5, 5) and len(calls) == 5 - len(first)
    records = [json.loads(line) for line in jsonl.read_text().splitlines()]
    names = [r["video"] for r in records]
    assert sorted(names) == ["c0.npz", "c1.npz", "c2.npz", "c3.npz", "sub/c4.npz"] and len(set(names)) == 5
    assert list(caption_folder(folder, jsonl, count, "count")) == [(5, 5, None)]  # all done: nothing runs


def test_unreadable_video_is_skipped_and_retried_later(folder, tmp_path, capsys):
    (folder / "broken.mp4").write_bytes(b"not a video")
    jsonl = tmp_path / "c.jsonl"
    code = main(["caption", str(folder), "-b", "learned", "-o", str(jsonl), "--json"])
    assert code == 0
    out = capsys.readouterr()
    summary = json.loads(out.out)
    assert summary["captioned"] == 5 and summary["skipped"] == [str(folder / "broken.mp4")]
    assert "skipped" in out.err and "broken.mp4" not in jsonl.read_text()
    assert done_in(jsonl) == {"c0.npz", "c1.npz", "c2.npz", "c3.npz", "sub/c4.npz"}


def test_single_video_and_bad_arguments(folder, tmp_path, capsys):
    video = folder / "c0.npz"
    (folder / "sub" / "empty").mkdir()
    assert main(["caption", str(video), "-b", "learned"]) == 0
    item = json.loads(capsys.readouterr().out)
    assert item["video"] == str(video) and item["caption"]["subjects"] and item["prompt"]
    out = tmp_path / "one.json"
    assert main(["caption", str(video), "-b", "learned", "-o", str(out), "-q"]) == 0
    assert json.loads(out.read_text())["prompt"] == item["prompt"]
    for args, message in (
        ([str(tmp_path / "missing")], "does not exist"),
        ([str(video), "-b", "magic"], "unknown backend 'magic'"),
        ([str(video), "-o", str(tmp_path / "x.txt")], "must end in .json"),
        ([str(folder), "-o", str(tmp_path / "x.json")], "must end in .jsonl"),
        ([str(folder / "sub" / "empty")], "no videos"),
    ):
        assert main(["caption", *args]) == 2, args
        err = capsys.readouterr().err
        assert message in err and err.count("\n") == 1, err
    bad = tmp_path / "bad.jsonl"
    bad.write_text("hello\n")
    assert main(["caption", str(folder), "-b", "learned", "-o", str(bad)]) == 2
    assert "line 1 is not a caption record" in capsys.readouterr().err
