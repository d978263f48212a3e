"""The diffusion-forcing noise schedule and the flow-matching objective's pieces."""

import pytest
import torch

from openreels.train.flow import (
    ForcingConfig,
    add_noise,
    flow_loss,
    sample_sigmas,
    shift_sigma,
    velocity_target,
)


def _gen(seed=0):
    return torch.Generator().manual_seed(seed)


def test_shift_keeps_ends_and_raises_the_middle():
    s = torch.tensor([0.0, 0.25, 0.5, 1.0])
    out = shift_sigma(s, 3.0)
    assert out[0] == 0 and out[-1] == 1
    assert (out[1:3] > s[1:3]).all()
    assert torch.allclose(shift_sigma(s, 1.0), s)


def test_uniform_mode_gives_one_level_per_sample():
    sig, clean = sample_sigmas(16, 9, ForcingConfig(), _gen(), modes=["uniform"] * 16)
    assert sig.shape == (16, 9) and not clean.any()
    assert torch.allclose(sig, sig[:, :1].expand(-1, 9))
    assert (sig > 0).all() and (sig <= 1).all()
    assert sig[:, 0].std() > 0.05  # levels differ across the batch


def test_independent_mode_gives_per_frame_levels():
    sig, clean = sample_sigmas(32, 9, ForcingConfig(), _gen(1), modes=["independent"] * 32)
    assert not clean.any()
    distinct = torch.tensor([row.unique().numel() for row in sig])
    assert (distinct == 9).float().mean() > 0.9  # almost always every frame has its own level
    # about half the rows are sorted (later frames noisier, as the asynchronous schedule runs)
    sorted_rows = (sig[:, 1:] >= sig[:, :-1]).all(dim=1).float().mean()
    assert 0.2 < sorted_rows < 0.8


def test_causal_blocks_share_a_level_and_the_ragged_tail_is_noised():
    cfg = ForcingConfig(block_size=4)
    sig, _ = sample_sigmas(8, 10, cfg, _gen(2), modes=["independent"] * 8)
    for row in sig:
        assert row[0:4].unique().numel() == 1 and row[4:8].unique().numel() == 1
        assert row[8:10].unique().numel() == 1  # the 2-frame tail is a block of its own, not skipped
        assert (row > 0).all()


def test_prefix_mode_keeps_a_clean_prefix_and_noises_the_rest():
    cfg = ForcingConfig(p_noisy_prefix=0.0)
    sig, clean = sample_sigmas(64, 9, cfg, _gen(3), modes=["prefix"] * 64)
    k = clean.sum(dim=1)
    assert (k >= 1).all() and (k <= 8).all() and k.unique().numel() > 3
    for row, c, n in zip(sig, clean, k.tolist(), strict=True):
        assert c[:n].all() and not c[n:].any()  # a prefix, never a gap
        assert (row[:n] == 0).all()
        assert (row[n:] > 0).all() and row[n:].unique().numel() == 1


def test_noisy_prefix_levels_stay_small():
    cfg = ForcingConfig(p_noisy_prefix=1.0, max_prefix_sigma=0.05)
    sig, clean = sample_sigmas(32, 9, cfg, _gen(4), modes=["prefix_independent"] * 32)
    assert (sig[clean] <= 0.05).all() and (sig[clean] > 0).any()
    assert (sig[~clean] > 0).all()


def test_mode_mix_follows_the_probabilities_and_the_seed():
    cfg = ForcingConfig(p_uniform=1, p_independent=0, p_prefix=1, p_prefix_independent=0)
    a, ca = sample_sigmas(400, 5, cfg, _gen(5))
    b, cb = sample_sigmas(400, 5, cfg, _gen(5))
    assert torch.equal(a, b) and torch.equal(ca, cb)
    frac_prefix = ca.any(dim=1).float().mean()
    assert 0.4 < frac_prefix < 0.6
    with pytest.raises(ValueError):
        ForcingConfig(p_uniform=0, p_independent=0, p_prefix=0, p_prefix_independent=0).probabilities()


def test_noising_endpoints_velocity_and_masked_loss():
    x0 = torch.randn(2, 4, 3, 2, 2)
    e = torch.randn_like(x0)
    sig = torch.tensor([[0.0, 0.5, 1.0], [1.0, 1.0, 0.0]])
    xs = add_noise(x0, e, sig)
    assert torch.allclose(xs[0, :, 0], x0[0, :, 0]) and torch.allclose(xs[0, :, 2], e[0, :, 2])
    assert torch.allclose(xs[0, :, 1], 0.5 * (x0[0, :, 1] + e[0, :, 1]))
    v = velocity_target(x0, e)
    # following the velocity from x_s for s recovers x0: x_s - s v = x0
    assert torch.allclose(xs - sig[:, None, :, None, None] * v, x0, atol=1e-6)
    clean = torch.tensor([[True, False, False], [False, False, True]])
    pred = v.clone()
    pred[:, :, 0] += 100.0  # error only on frame 0: clean in sample 0, noised in sample 1
    loss = flow_loss(pred, v, clean)
    assert torch.isclose(loss, torch.tensor(100.0**2 / 4))  # 1 bad frame of the 4 noised frames
    weight = torch.ones(2, 1, 3, 2, 2)
    assert torch.isclose(flow_loss(pred, v, clean, weight), loss)
    weight[1, :, 0, 0, 0] = 5.0  # one of the bad frame's 4 positions counts 5 times
    assert torch.isclose(flow_loss(pred, v, clean, weight), torch.tensor(100.0**2 * (3 + 5) / 4 / 4))
