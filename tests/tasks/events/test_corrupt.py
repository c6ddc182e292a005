"""Event-level corruptions: exact per-sample counts, spans, jitter statistics, seeds, task splits."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from spikeopt.tasks.events import EventSamples, make_events, write_nmnist_bin
from spikeopt.tasks.events.corrupt import (
    add_noise_events,
    check_corruption,
    corrupt_samples,
    drop_events,
    jitter_events,
)
from spikeopt.tasks.events.tasks import EventDigits, NMnist


def hand_made() -> EventSamples:
    """Three samples on an 8x6 sensor: 4 events, 10 events, none."""
    a = make_events([1, 2, 3, 4], [0, 1, 2, 3], [0, 1, 0, 1], [10, 20, 30, 40])
    b = make_events(np.arange(10) % 8, np.arange(10) % 6, np.arange(10) % 2, np.arange(10) * 100 + 1000)
    return EventSamples.from_list([a, b, make_events([], [], [], [])], [0, 1, 2], height=6, width=8)


def as_set(events: np.ndarray) -> set:
    return set(map(tuple, events.tolist()))


def big(n_samples=20, per=2000, seed=0) -> EventSamples:
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(n_samples):
        t = np.sort(rng.integers(0, 1_000_000, per))
        samples.append(make_events(rng.integers(0, 34, per), rng.integers(0, 34, per), rng.integers(0, 2, per), t))
    return EventSamples.from_list(samples, list(range(n_samples)), 34, 34)


def test_drop_removes_exact_counts_of_original_events():
    s = hand_made()
    out = drop_events(s, 0.5, seed=0)
    assert out.counts.tolist() == [2, 5, 0]
    assert out.labels.tolist() == [0, 1, 2] and (out.height, out.width) == (6, 8)
    for i in range(2):
        assert as_set(out[i]) <= as_set(s[i])
        assert np.all(np.diff(out[i]["t"]) >= 0)
    assert drop_events(s, 0.0, seed=0).counts.tolist() == [4, 10, 0]
    assert drop_events(s, 1.0, seed=0).counts.tolist() == [0, 0, 0]
    large = big()
    assert drop_events(large, 0.3, seed=1).counts.tolist() == [1400] * 20


def test_drop_chooses_uniformly():
    s = big(n_samples=1, per=2000)
    kept = np.zeros(2000)
    times = s.events["t"]
    for seed in range(50):
        out = drop_events(s, 0.5, seed=seed)
        kept += np.isin(times, out.events["t"])  # timestamps may repeat; fine for a frequency check
    first, second = kept[:1000].mean(), kept[1000:].mean()
    assert abs(first - second) < 2.5  # about 25 of 50 each, no bias to early or late events


def test_noise_adds_exact_counts_inside_sensor_and_span():
    s = hand_made()
    out = add_noise_events(s, 0.5, seed=0)
    assert out.counts.tolist() == [6, 15, 0]
    for i, (t0, t1) in enumerate([(10, 40), (1000, 1900)]):
        ev = out[i]
        assert as_set(s[i]) <= as_set(ev)
        assert ev["t"].min() >= t0 and ev["t"].max() <= t1
        assert np.all(np.diff(ev["t"]) >= 0)
    assert out.events["x"].max() < 8 and out.events["y"].max() < 6
    assert set(np.unique(out.events["p"]).tolist()) <= {0, 1}
    large = add_noise_events(big(), 1.0, seed=2)
    assert large.counts.tolist() == [4000] * 20
    assert np.unique(large.events["p"]).tolist() == [0, 1]


def test_jitter_statistics_and_clipping():
    s = big(n_samples=5, per=4000)
    out = jitter_events(s, 500.0, seed=0)
    assert out.counts.tolist() == s.counts.tolist()
    for i in range(len(s)):
        assert np.all(np.diff(out[i]["t"]) >= 0)
        assert out[i]["t"].min() >= s[i]["t"].min() and out[i]["t"].max() <= s[i]["t"].max()
    # the shifts themselves: redo the draw with the same generator layout on unsorted events
    shift = out.events["t"].astype(np.int64).sum() - s.events["t"].astype(np.int64).sum()
    assert abs(shift / len(s.events)) < 20  # mean ~ 0 (std of the mean 500/sqrt(20000) ~ 3.5, plus clipping)
    sorted_in = np.sort(s.events["t"])
    sorted_out = np.sort(out.events["t"])
    assert not np.array_equal(sorted_in, sorted_out)
    one = EventSamples.from_list([make_events(np.zeros(20000), np.zeros(20000), np.zeros(20000),
                                              np.r_[0, np.full(19998, 500_000), 1_000_000])], [0], 1, 1)
    moved = jitter_events(one, 1000.0, seed=3).events["t"][1:-1].astype(np.float64) - 500_000
    assert moved.std() == pytest.approx(1000.0, rel=0.03)
    assert abs(moved.mean()) < 30
    assert np.array_equal(jitter_events(one, 0.0, seed=3).events["t"], one.events["t"])


def test_seeds_reproduce_and_differ():
    s = big(n_samples=3, per=500)
    for kind, level in (("drop", 0.4), ("noise", 0.4), ("jitter", 300.0)):
        a = corrupt_samples(s, kind, level, seed=5)
        b = corrupt_samples(s, kind, level, seed=5)
        c = corrupt_samples(s, kind, level, seed=[5, 1])
        assert np.array_equal(a.events, b.events) and np.array_equal(a.offsets, b.offsets)
        assert not np.array_equal(a.events, c.events)


def test_validation_errors():
    s = hand_made()
    with pytest.raises(ValueError, match="unknown event corruption"):
        corrupt_samples(s, "blur", 0.1)
    with pytest.raises(ValueError, match="drop"):
        drop_events(s, 1.5)
    for fn in (drop_events, add_noise_events, jitter_events):
        with pytest.raises(ValueError):
            fn(s, -0.1)
        with pytest.raises(ValueError):
            fn(s, float("nan"))
        with pytest.raises(ValueError, match="seed"):
            fn(s, 0.1, seed=-1)
        with pytest.raises(TypeError, match="EventSamples"):
            fn(s.events, 0.1)
    with pytest.raises(ValueError, match="seed"):
        drop_events(s, 0.1, seed=True)
    with pytest.raises(ValueError):
        check_corruption("jitter", float("inf"))


# ------------------------------------------------------------------------------ corrupted task splits


@pytest.fixture(scope="module")
def digits(tmp_path_factory):
    return EventDigits(size=8, steps=4, cache_dir=str(tmp_path_factory.mktemp("event-cache")))


def test_event_digits_corrupted_split(digits):
    clean = digits.splits(seed=1)
    for kind in ("drop", "noise", "jitter"):
        same = digits.corrupted_split("test", 1, kind, 0.0)
        assert torch.equal(same.x, clean["test"].x) and torch.equal(same.y, clean["test"].y)
    dropped = digits.corrupted_split("test", 1, "drop", 1.0)
    assert torch.equal(dropped.y, clean["test"].y) and dropped.x.sum() == 0
    noisy = digits.corrupted_split("val", 1, "noise", 1.0, corruption_seed=3)
    assert noisy.x.shape == clean["val"].x.shape and noisy.x.sum() > clean["val"].x.sum()
    again = digits.corrupted_split("val", 1, "noise", 1.0, corruption_seed=3)
    assert torch.equal(noisy.x, again.x)
    with pytest.raises(ValueError, match="split"):
        digits.corrupted_split("ood", 1, "drop", 0.1)
    with pytest.raises(ValueError, match="unknown event corruption"):
        digits.corrupted_split("test", 1, "blur", 0.1)


def test_nmnist_corrupted_split_rebins_the_files(tmp_path):
    rng = np.random.default_rng(0)
    for split, per in (("Train", 3), ("Test", 1)):
        for digit in range(10):
            for k in range(per):
                n = int(rng.integers(50, 200))
                ev = make_events(rng.integers(0, 34, n), rng.integers(0, 34, n), rng.integers(0, 2, n),
                                 np.sort(rng.integers(0, 300_000, n)))
                write_nmnist_bin(tmp_path / split / str(digit) / f"{k:05d}.bin", ev)
    task = NMnist(data_dir=str(tmp_path), steps=3, downsample=2, val_fraction=0.34)
    clean = task.splits(seed=0)
    same = task.corrupted_split("test", 0, "jitter", 0.0)
    assert torch.equal(same.x, clean["test"].x) and torch.equal(same.y, clean["test"].y)
    train = task.corrupted_split("train", 0, "drop", 1.0)
    assert torch.equal(train.y, clean["train"].y) and train.x.sum() == 0
