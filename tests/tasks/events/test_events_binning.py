"""Event-to-frame binning, downsampling and denoising against naive per-event references."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from spikeopt.tasks.events import (
    EventSamples,
    denoise,
    denoise_samples,
    downsample_frames,
    flatten,
    make_events,
    samples_to_frames,
    to_frames,
)


def random_events(rng, n, h, w, t_lo, t_hi):
    return make_events(rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n), rng.integers(t_lo, t_hi, n))


def naive_frames(events, h, w, n_bins=None, window=None, t_start=None, t_end=None, f=1):
    """The documented bin rule, one event at a time in plain Python."""
    ts = [int(t) for t in events["t"]]
    t0 = min(ts) if t_start is None else t_start
    t1 = max(ts) if t_end is None else t_end
    if n_bins is None:
        n_frames = int((t1 - t0) // window) + 1
    else:
        n_frames = n_bins
    out = np.zeros((n_frames, 2, -(-h // f), -(-w // f)), dtype=np.float32)
    for e in events:
        t = int(e["t"])
        if t < t0 or t > t1:
            continue
        b = (t - t0) * n_bins // (t1 - t0 + 1) if window is None else int((t - t0) // window)
        if b < n_frames:
            out[b, int(e["p"]), int(e["y"]) // f, int(e["x"]) // f] += 1
    return out


@pytest.mark.parametrize(
    "kwargs",
    [
        dict(n_bins=7),
        dict(n_bins=1),
        dict(window_us=250),
        dict(window_us=333.5),
        dict(n_bins=3, window_us=400),
        dict(n_bins=5, t_start=-100, t_end=2500),
        dict(n_bins=4, t_start=500, t_end=1500),
        dict(window_us=300, t_start=200),
    ],
)
@pytest.mark.parametrize("downsample", [1, 3])
def test_to_frames_matches_naive_loop(kwargs, downsample):
    rng = np.random.default_rng(zlib.crc32(repr((sorted(kwargs.items()), downsample)).encode()))
    h, w = 10, 13
    ev = random_events(rng, 400, h, w, 0, 2000)
    got = to_frames(ev, h, w, downsample=downsample, **kwargs)
    ref = naive_frames(
        ev,
        h,
        w,
        n_bins=kwargs.get("n_bins"),
        window=kwargs.get("window_us"),
        t_start=kwargs.get("t_start"),
        t_end=kwargs.get("t_end"),
        f=downsample,
    )
    assert got.dtype == np.float32 and got.shape == ref.shape
    assert np.array_equal(got, ref)


def test_to_frames_hand_example():
    ev = make_events([0, 1, 2, 3, 3], [0, 0, 1, 1, 1], [1, 0, 1, 1, 1], [1000, 1099, 1100, 1399, 1399])
    fr = to_frames(ev, 2, 4, n_bins=4)  # span 1000..1399 -> bins of 100 us
    assert fr.shape == (4, 2, 2, 4)
    assert fr[0, 1, 0, 0] == 1 and fr[0, 0, 0, 1] == 1 and fr[1, 1, 1, 2] == 1 and fr[3, 1, 1, 3] == 2
    assert fr.sum() == 5
    assert to_frames(ev, 2, 4, window_us=100).shape[0] == 4
    assert to_frames(ev, 2, 4, n_bins=4).sum(axis=(0, 1)).tolist() == [[1, 1, 0, 0], [0, 0, 1, 2]]


def test_to_frames_empty_and_errors():
    empty = make_events([], [], [], [])
    assert to_frames(empty, 4, 4, n_bins=3).shape == (3, 2, 4, 4)
    assert to_frames(empty, 4, 4, window_us=10).shape == (0, 2, 4, 4)
    assert to_frames(empty, 4, 4, window_us=10, t_start=0, t_end=25).shape == (3, 2, 4, 4)
    ev = make_events([3], [3], [1], [5])
    with pytest.raises(ValueError, match="n_bins"):
        to_frames(ev, 4, 4)
    with pytest.raises(ValueError, match="n_bins must be an integer"):
        to_frames(ev, 4, 4, n_bins=0)
    with pytest.raises(ValueError, match="window_us"):
        to_frames(ev, 4, 4, window_us=-1)
    with pytest.raises(ValueError, match="downsample"):
        to_frames(ev, 4, 4, n_bins=2, downsample=0)
    with pytest.raises(ValueError, match="width 3"):
        to_frames(ev, 4, 3, n_bins=2)
    with pytest.raises(TypeError, match="event array"):
        to_frames(np.zeros((2, 4)), 4, 4, n_bins=2)


def test_samples_to_frames_equals_per_sample_binning():
    rng = np.random.default_rng(5)
    h, w = 9, 11
    evs = [random_events(rng, int(rng.integers(1, 80)), h, w, 10_000 * k, 10_000 * k + 5000) for k in range(6)]
    evs.insert(2, make_events([], [], [], []))
    samples = EventSamples.from_list(evs, list(range(7)), h, w)
    for kwargs in (dict(n_bins=6), dict(n_bins=4, window_us=900), dict(n_bins=5, duration_us=3000)):
        for f in (1, 2):
            batch = samples_to_frames(samples, downsample=f, **kwargs)
            assert batch.shape[:2] == (7, kwargs["n_bins"])
            for i, ev in enumerate(evs):
                if ev.size == 0:
                    assert not batch[i].any()
                    continue
                extra = {}
                if "duration_us" in kwargs:
                    extra = dict(t_start=int(ev["t"].min()), t_end=int(ev["t"].min()) + kwargs["duration_us"] - 1)
                single = to_frames(
                    ev, h, w, n_bins=kwargs["n_bins"], window_us=kwargs.get("window_us"), downsample=f, **extra
                )
                assert np.array_equal(batch[i], single)
    # window only: as many bins as the longest sample needs
    batch = samples_to_frames(samples, window_us=1000)
    assert batch.shape[1] == max(int(e["t"].max() - e["t"].min()) // 1000 + 1 for e in evs if e.size)
    assert batch.sum() == sum(e.size for e in evs)


def test_downsampling_sums_blocks():
    rng = np.random.default_rng(6)
    h, w = 34, 34
    ev = random_events(rng, 3000, h, w, 0, 10**5)
    full = to_frames(ev, h, w, n_bins=5)
    for f in (1, 2, 4, 5):
        small = to_frames(ev, h, w, n_bins=5, downsample=f)
        assert small.shape == (5, 2, -(-h // f), -(-w // f))
        assert np.array_equal(small, downsample_frames(full, f))
        assert small.sum() == full.sum() == ev.size
    two = downsample_frames(full, 2)
    assert two[3, 1, 4, 7] == full[3, 1, 8:10, 14:16].sum()
    assert flatten(two).shape == (5, 2 * 17 * 17)
    assert np.array_equal(flatten(two)[2], np.concatenate([two[2, 0].ravel(), two[2, 1].ravel()]))
    with pytest.raises(ValueError, match=r"\[\.\.\., T, 2, H, W\]"):
        flatten(np.zeros((3, 4, 5)))


def naive_keep(events, dt):
    """O(N^2) reference: keep i iff some event at an 8-neighbour pixel has 0 <= t_i - t_j < dt."""
    x = events["x"].astype(int)
    y = events["y"].astype(int)
    t = events["t"].astype(int)
    keep = []
    for i in range(len(events)):
        ok = False
        for j in range(len(events)):
            if max(abs(x[i] - x[j]), abs(y[i] - y[j])) == 1 and 0 <= t[i] - t[j] < dt:
                ok = True
                break
        keep.append(ok)
    return np.array(keep, dtype=bool)


@pytest.mark.parametrize("seed", range(4))
def test_denoise_matches_naive_reference(seed):
    rng = np.random.default_rng(seed)
    h, w = 7, 9
    ev = random_events(rng, 300, h, w, 0, 3000)
    ev["t"][:40] = ev["t"][40:80]  # plenty of simultaneous events
    for dt in (1, 60, 150):
        keep = naive_keep(ev, dt)
        got = denoise(ev, dt, height=h, width=w)
        assert np.array_equal(got, ev[keep])
    assert 0 < naive_keep(ev, 60).sum() < len(ev)  # the test data exercise both outcomes


def test_denoise_edges_and_groups():
    # a lone event is dropped, a diagonal neighbour supports, the own pixel and wrap-around do not
    # (5,5)@0: only a later neighbour; (6,6)@10: diagonal support; (0,5)@5: own pixel only;
    # (0,1)@1: (9,0) is next to it in memory but not on the sensor; (1,1)@3: supported by (0,1)
    ev = make_events([5, 6, 0, 0, 9, 0, 1], [5, 6, 5, 5, 0, 1, 1], [0, 1, 0, 1, 0, 0, 1], [0, 10, 0, 5, 0, 1, 3])
    got = denoise(ev, 50, height=8, width=10)
    assert got["t"].tolist() == [10, 3]
    assert denoise(ev, 2, height=8, width=10)["t"].tolist() == []  # (1,1)@3 is 2 us after (0,1)@1: not < 2
    assert denoise(make_events([], [], [], []), 10).size == 0
    with pytest.raises(ValueError, match="dt_us"):
        denoise(ev, 0)
    # support never crosses samples
    a = make_events([1], [1], [0], [0])
    b = make_events([2, 3], [2, 3], [0, 0], [1, 2])
    samples = EventSamples.from_list([a, b, make_events([], [], [], [])], [0, 1, 2], 5, 5)
    clean = denoise_samples(samples, 100)
    assert clean.counts.tolist() == [0, 1, 0] and clean[1]["x"].tolist() == [3]
    rng = np.random.default_rng(9)
    evs = [random_events(rng, 120, 6, 6, 0, 2000) for _ in range(5)]
    samples = EventSamples.from_list(evs, [0] * 5, 6, 6)
    clean = denoise_samples(samples, 80)
    for i, ev in enumerate(evs):
        assert np.array_equal(clean[i], denoise(ev, 80, height=6, width=6))
