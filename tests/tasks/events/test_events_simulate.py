"""The built-in event-digits simulator: physics sanity, seeds and the on-disk cache."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from spikeopt.tasks.events import (
    EventDigitsConfig,
    cache_path,
    default_cache_dir,
    digit_images,
    load_event_digits,
    samples_to_frames,
    simulate_events,
    to_frames,
)
from spikeopt.tasks.events import simulate


@pytest.fixture(scope="module")
def default_digits(tmp_path_factory):
    return load_event_digits(EventDigitsConfig(), cache_dir=tmp_path_factory.mktemp("cache"))


def correlation(a: np.ndarray, b: np.ndarray) -> float:
    a = a.astype(np.float64).ravel() - a.mean()
    b = b.astype(np.float64).ravel() - b.mean()
    return float((a * b).sum() / np.sqrt((a * a).sum() * (b * b).sum()))


def test_event_counts_reproduce_digit_edges(default_digits):
    samples = default_digits
    images, labels = digit_images(16)
    assert len(samples) == len(images) == 1797
    assert np.array_equal(samples.labels, labels) and set(labels.tolist()) == set(range(10))
    counts = samples_to_frames(samples, n_bins=1)[:, 0].sum(axis=1)  # all events of each digit, [N, H, W]
    gy, gx = np.gradient(images.astype(np.float64), axis=(1, 2))
    grad = np.hypot(gx, gy)
    corr = np.array([correlation(counts[i], grad[i]) for i in range(len(images))])
    # measured: mean 0.83, min 0.77 (the counts blur the edges along the 2-px saccade path)
    assert corr.min() > 0.6 and corr.mean() > 0.75
    # the count image follows edges, not brightness
    bright = np.array([correlation(counts[i], images[i]) for i in range(0, len(images), 10)])
    assert bright.mean() < corr.mean() - 0.3


def test_event_statistics(default_digits):
    s = default_digits
    assert (s.height, s.width) == (16, 16)
    assert s.counts.min() > 200  # every digit produces plenty of events
    ev = s.events
    assert ev["t"].min() >= 0 and ev["t"].max() <= 300_000
    assert 0.4 < ev["p"].mean() < 0.6  # ON and OFF balance over a closed path
    for i in (0, 500, 1796):
        assert np.all(np.diff(s[i]["t"]) >= 0)
    # all three saccades produce events
    thirds = np.bincount(np.minimum(ev["t"] // 100_000, 2), minlength=3)
    assert thirds.min() > 0.2 * thirds.sum()


def test_square_events_lie_on_its_edges():
    img = np.zeros((1, 20, 20))
    img[0, 7:13, 7:13] = 1.0
    s = simulate_events(img, contrast=0.15, amplitude=2.0, seed=0)
    fr = to_frames(s[0], 20, 20, n_bins=1)[0].sum(0)
    yy, xx = np.mgrid[:20, :20]
    # distance (in pixels, Chebyshev) to the square's boundary
    inside = np.maximum(np.abs(yy - 9.5), np.abs(xx - 9.5))
    dist = np.abs(inside - 3.0)
    assert fr[dist <= 2.5].sum() == fr.sum() > 0  # no events far from the edges
    assert fr[dist <= 1.0].sum() > 0.5 * fr.sum()
    # the first saccade moves the image down-right: ON events on the dark side of the leading
    # (bottom-right) edges and OFF events behind the trailing (top-left) edges
    first = to_frames(s[0], 20, 20, n_bins=3)[0]
    assert first[1, 12:, :].sum() > first[0, 12:, :].sum()
    assert first[0, :8, :].sum() > first[1, :8, :].sum()


def test_noise_and_validation():
    img = np.zeros((2, 10, 10))
    quiet = simulate_events(img, seed=0)
    assert quiet.counts.tolist() == [0, 0]
    noisy = simulate_events(img, noise_hz=50.0, seed=0)
    expected = 50.0 * 100 * 0.3  # per pixel rate x pixels x seconds
    assert np.all(np.abs(noisy.counts - expected) < 5 * np.sqrt(expected))
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        simulate_events(img + 2.0)
    with pytest.raises(ValueError, match="contrast"):
        simulate_events(img, contrast=0.0)
    with pytest.raises(ValueError, match="size"):
        EventDigitsConfig(size=4)


def test_seeds_are_reproducible():
    images, labels = digit_images(8)
    images, labels = images[:40], labels[:40]
    a = simulate_events(images, labels, seed=3, noise_hz=5.0)
    b = simulate_events(images, labels, seed=3, noise_hz=5.0)
    c = simulate_events(images, labels, seed=4, noise_hz=5.0)
    assert np.array_equal(a.events, b.events) and np.array_equal(a.offsets, b.offsets)
    assert not (a.events.size == c.events.size and np.array_equal(a.events, c.events))


def test_cache_round_trip_and_keys(tmp_path, monkeypatch):
    config = EventDigitsConfig(size=8, contrast=0.3)
    first = load_event_digits(config, cache_dir=tmp_path)
    path = cache_path(config, tmp_path)
    assert path.is_file() and path.suffix == ".npz"
    assert sorted(os.listdir(tmp_path)) == [path.name]  # no temp file left behind

    def no_build(*args, **kwargs):
        raise AssertionError("the second load must come from the cache")

    monkeypatch.setattr(simulate, "build_event_digits", no_build)
    second = load_event_digits(config, cache_dir=tmp_path)
    assert np.array_equal(first.events, second.events) and np.array_equal(first.offsets, second.offsets)
    assert np.array_equal(first.labels, second.labels) and (second.height, second.width) == (8, 8)
    monkeypatch.undo()

    other = EventDigitsConfig(size=8, contrast=0.35)
    assert cache_path(other, tmp_path) != path
    load_event_digits(other, cache_dir=tmp_path)
    assert len(list(tmp_path.glob("event-digits-*.npz"))) == 2
    assert cache_path(EventDigitsConfig(size=8, contrast=0.3, seed=1), tmp_path) != path

    # a damaged cache file is rebuilt, not trusted
    path.write_bytes(b"not a zip file")
    again = load_event_digits(config, cache_dir=tmp_path)
    assert np.array_equal(again.events, first.events)


def test_cache_location_follows_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("SPIKEOPT_CACHE", str(tmp_path / "root"))
    assert default_cache_dir() == tmp_path / "root" / "event-digits"
    config = EventDigitsConfig(size=8, contrast=0.4)
    load_event_digits(config)
    assert cache_path(config).parent == tmp_path / "root" / "event-digits" and cache_path(config).is_file()
    monkeypatch.delenv("SPIKEOPT_CACHE")
    assert default_cache_dir() == Path.home() / ".cache" / "spikeopt" / "event-digits"
    # use_cache=False neither reads nor writes
    nothing = tmp_path / "nothing"
    load_event_digits(config, cache_dir=nothing, use_cache=False)
    assert not nothing.exists()
