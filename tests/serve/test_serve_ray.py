"""The render farm on a real two-node Ray cluster on this machine: an episode's shots run in parallel on
both nodes; the second node is killed mid-render, its shot is retried on the head and the episode completes.
First the server itself with --farm: a single job and a render go through Ray."""

from __future__ import annotations

import sys
import threading
import time

import pytest

pytest.importorskip("ray", reason="the Ray farm needs the [ray] extra")
API = "/api/v1"


class SlowStage:
    """The stage renderer, a second per shot, logging (shot, node) at the start and end of every call.

    On the node named `hold_on`, every shot after the first never finishes: it waits for the test to take the
    node away. (A second's sleep was a race: under load the worker outlived its killed node long enough to
    log the shot's end, and no shot was lost.)"""

    cache_id = "slow-stage-v1"

    def __init__(self, log, hold_on: str | None = None) -> None:
        self.log = log
        self.hold_on = hold_on

    def __call__(self, shot, cast, settings, references):
        import ray

        from openreels.studio import render_stage_shot

        node = ray.get_runtime_context().get_node_id()
        finished_here = any(
            ln.startswith("end") and ln.endswith(node) for ln in open(self.log).read().split("\n")
        )
        with open(self.log, "a") as fh:
            fh.write(f"start {shot.id} {node}\n")
        time.sleep(1.0)
        while node == self.hold_on and finished_here:
            time.sleep(1.0)  # until the node is removed, which kills this worker
        frames = render_stage_shot(shot, cast, settings, references)
        with open(self.log, "a") as fh:
            fh.write(f"end {shot.id} {node}\n")
        return frames


@pytest.fixture(scope="module")
def cluster():
    import ray
    from ray.cluster_utils import Cluster

    # Two nodes of one CPU each (the head runs tasks too; the second node is the one removed), tiny object
    # stores, no dashboard: a cluster small enough for a 2-core CI machine.
    c = Cluster(
        initialize_head=True,
        head_node_args={"num_cpus": 1, "object_store_memory": 80 << 20, "include_dashboard": False},
    )
    nodes = [c.head_node, c.add_node(num_cpus=1, object_store_memory=80 << 20)]
    c.wait_for_nodes()
    ray.init(address=c.address, include_dashboard=False, logging_level="ERROR")
    # The test module is not importable on the nodes: send its classes by value.
    ray.cloudpickle.register_pickle_by_value(sys.modules[__name__])
    yield c, nodes
    ray.shutdown()
    c.shutdown()


def test_server_with_the_farm_runs_jobs_and_renders_on_ray(kit, cluster, tmp_path) -> None:
    from fastapi.testclient import TestClient

    from openreels.serve import create_app

    c, _ = cluster
    app = create_app(tmp_path / "data", workers=2, farm=c.address)
    with TestClient(app) as client:
        assert client.get(f"{API}/health").json()["farm"] == "ray"
        alice = {"Authorization": f"Bearer {app.state.store.create_token('alice')}"}
        project = client.post(
            f"{API}/projects", json={"fountain": kit.SCREENPLAY, "settings": kit.STAGE}, headers=alice
        )
        render = client.post(f"{API}/projects/{project.json()['id']}/render", headers=alice).json()
        single = client.post(f"{API}/jobs/generate", json=kit.TINY, headers=alice).json()
        deadline = time.monotonic() + 150
        while True:
            jobs = [client.get(f"{API}/jobs/{j['id']}", headers=alice).json() for j in (render, single)]
            if all(j["state"] not in ("queued", "running") for j in jobs):
                break
            assert time.monotonic() < deadline, jobs
            time.sleep(0.3)
    assert [j["state"] for j in jobs] == ["done", "done"], jobs
    assert jobs[0]["result"]["report"]["rendered"] == jobs[0]["result"]["report"]["shots"]
    files = {f["name"] for f in jobs[1]["result"]["files"]}
    assert files == {"video-0.mp4", "video-0.json"}


def test_shots_spread_over_two_nodes_and_survive_losing_one(kit, cluster, tmp_path) -> None:
    from openreels.serve.farm import RayFarm
    from openreels.studio import Settings, new_project

    c, nodes = cluster
    source = tmp_path / "ep.fountain"
    source.write_text(kit.SCREENPLAY + "\nNOOR\nBye Sam.\n\nSAM\nBye!\n")
    project = new_project(tmp_path / "ep", source, settings=Settings(**kit.STAGE))
    log = tmp_path / "calls.log"
    farm = RayFarm(c.address)
    seen: list[tuple[str, int, int]] = []
    errors: list[BaseException] = []
    doomed = nodes[1]
    log.touch()

    def run() -> None:
        try:
            farm.render_shots(
                project,
                lambda stage, done, total: seen.append((stage, done, total)),
                SlowStage(log, hold_on=doomed.node_id),
            )
        except BaseException as exc:  # noqa: BLE001 - handed to the test thread
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 60
    # Wait until the doomed node has finished one shot and started another, then take it away.
    while True:
        lines = log.read_text().split("\n") if log.exists() else []
        ends = [ln for ln in lines if ln.startswith("end") and ln.endswith(doomed.node_id)]
        starts = [ln for ln in lines if ln.startswith("start") and ln.endswith(doomed.node_id)]
        if ends and len(starts) > len(ends):
            break
        assert time.monotonic() < deadline and worker.is_alive(), (lines, errors)
        time.sleep(0.05)
    c.remove_node(doomed, allow_graceful=False)  # as if it crashed
    worker.join(120)
    assert not errors, errors
    calls = [ln.split() for ln in log.read_text().split("\n") if ln]
    prepared = project.prepare(SlowStage(log))
    assert not prepared.missing()  # every shot is in the cache
    shots = {t.key for t in prepared.tasks}
    assert set(farm.shot_nodes) == shots
    lost = {shot for kind, shot, node in calls if kind == "start" and node == doomed.node_id} - {
        shot for kind, shot, node in calls if kind == "end" and node == doomed.node_id
    }
    assert lost, calls  # a shot was cut off with its node ...
    assert all(
        ("end", shot, nodes[0].node_id) in {tuple(x) for x in calls} for shot in lost
    )  # ... and redone
    assert set(farm.shot_nodes.values()) == {n.node_id for n in nodes}
    assert seen[-1] == ("shots", len(shots), len(shots))
    report = project.render(shot_renderer=SlowStage(log))
    assert report.rendered == 0 and report.cached == len(shots)
