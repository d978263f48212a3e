import torch

from openreels.world import is_held_out
from openreels.world.dataset import StageClips


def test_stream_items_are_shaped_and_reproducible():
    ds = StageClips((64, 72), 5, seed=3)
    a, b = ds.item(7), StageClips((64, 72), 5, seed=3).item(7)
    assert a["frames"].shape == (5, 64, 72, 3) and a["frames"].dtype == torch.uint8
    assert a["landmarks"].shape == (5, 2, 70, 2) and a["landmarks"].dtype == torch.float32
    assert a["landmark_mask"].dtype == torch.bool and a["landmark_mask"][0]
    n = int(a["landmark_mask"].sum())
    assert (a["landmarks"][:, n:] == 0).all()
    assert torch.equal(a["frames"], b["frames"]) and a["prompt"] == b["prompt"]
    assert not torch.equal(a["frames"], ds.item(8)["frames"])
    assert isinstance(a["caption"], dict) and a["prompt"].endswith(".")


def test_workers_share_the_stream_without_overlap():
    ds = StageClips((64, 64), 3, length=8)
    loader = torch.utils.data.DataLoader(ds, batch_size=2, num_workers=2, collate_fn=StageClips.collate)
    seen = []
    for batch in loader:
        assert batch["frames"].shape == (2, 3, 64, 64, 3) and len(batch["prompt"]) == 2
        seen += batch["index"].tolist()
    assert sorted(seen) == list(range(8))
    single = [item["prompt"] for item in StageClips((64, 64), 3, length=6)]
    assert single == [ds.item(k)["prompt"] for k in range(6)]


def test_heldout_split_stream():
    held = StageClips((64, 64), 2, split="heldout", length=4)
    assert all(is_held_out(item["caption"]) for item in held)
    train = StageClips((64, 64), 2, length=30)
    assert not any(is_held_out(train.item(k)["caption"]) for k in range(30))
