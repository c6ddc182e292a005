"""Event format, N-MNIST .bin and DVS Gesture .npy readers/writers, Tonic interop."""

from __future__ import annotations

import struct

import numpy as np
import pytest

from spikeopt.tasks.events import (
    EVENT_DTYPE,
    EventSamples,
    as_events,
    decode_nmnist,
    dvs_gesture_index,
    encode_nmnist,
    from_tonic,
    load_dvs_gesture,
    load_nmnist,
    make_events,
    nmnist_index,
    read_dvs_npy,
    read_nmnist_bin,
    samples_from_tonic,
    sort_events,
    validate_events,
    write_dvs_npy,
    write_nmnist_bin,
)


def nmnist_record(x: int, y: int, p: int, t: int) -> bytes:
    """One 40-bit N-MNIST event written by hand: x, y, [p | t22..16], t15..8, t7..0."""
    assert 0 <= t < 2**23
    return struct.pack(">BBBBB", x, y, (p << 7) | (t >> 16), (t >> 8) & 0xFF, t & 0xFF)


def random_events(rng: np.random.Generator, n: int, h: int, w: int, t_max: int) -> np.ndarray:
    return make_events(
        rng.integers(0, w, n), rng.integers(0, h, n), rng.integers(0, 2, n), np.sort(rng.integers(0, t_max, n))
    )


# ------------------------------------------------------------------------------------------- format


def test_make_events_fields_and_validation():
    ev = make_events([1, 2], [3, 4], [True, False], [10, 5], sort=True)
    assert ev.dtype == EVENT_DTYPE
    assert ev["t"].tolist() == [5, 10] and ev["x"].tolist() == [2, 1] and ev["p"].tolist() == [0, 1]
    assert make_events([0, 0], [0, 0], [-1, 1], [0, 1])["p"].tolist() == [0, 1]
    with pytest.raises(ValueError, match="equally long"):
        make_events([1], [1, 2], [0], [0])
    with pytest.raises(ValueError, match="polarity"):
        make_events([1], [1], [2], [0])
    with pytest.raises(ValueError, match="x must lie"):
        make_events([-1], [1], [0], [0])
    with pytest.raises(ValueError, match="whole numbers"):
        make_events([1.5], [1], [0], [0])
    with pytest.raises(TypeError, match="event array"):
        validate_events(np.zeros((3, 4)))
    with pytest.raises(ValueError, match="width 2"):
        validate_events(make_events([2], [0], [0], [0]), height=4, width=2)
    with pytest.raises(ValueError, match="sorted"):
        validate_events(make_events([0, 0], [0, 0], [0, 0], [5, 1]), sorted_time=True)


def test_as_events_accepts_tables_and_structured_arrays():
    table = np.array([[1, 2, 1, 100], [3, 4, 0, 50]])
    ev = as_events(table)
    assert ev["x"].tolist() == [1, 3] and ev["y"].tolist() == [2, 4] and ev["t"].tolist() == [100, 50]
    tonic_dtype = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])
    st = np.array([(1, 2, 100, True), (3, 4, 50, False)], dtype=tonic_dtype)
    assert np.array_equal(as_events(st), ev)
    ms = as_events(np.array([[1.0, 2.0, 1.0, 0.1234]]), time_scale=1000.0)
    assert ms["t"].tolist() == [123]
    with pytest.raises(ValueError, match=r"\(N, 4\)"):
        as_events(np.zeros((3, 3)))
    with pytest.raises(ValueError, match="field 't'"):
        as_events(np.zeros(2, dtype=[("x", int), ("y", int), ("p", int)]))


def test_event_samples_indexing_and_subset():
    a = make_events([0, 1], [0, 1], [0, 1], [0, 1])
    b = make_events([], [], [], [])
    c = make_events([2], [2], [1], [7])
    s = EventSamples.from_list([a, b, c], [3, 4, 5], 4, 4)
    assert len(s) == 3 and s.counts.tolist() == [2, 0, 1] and s.sample_index.tolist() == [0, 0, 2]
    assert np.array_equal(s[2], c) and s[1].size == 0
    sub = s.subset([2, 0, 1])
    assert sub.labels.tolist() == [5, 3, 4] and np.array_equal(sub[0], c) and np.array_equal(sub[1], a)
    with pytest.raises(ValueError, match="one label per sample"):
        EventSamples(s.events, s.offsets, [1, 2], 4, 4)
    with pytest.raises(ValueError, match="width 2"):
        EventSamples.from_list([c], [0], 4, 2)


# ------------------------------------------------------------------------------------------ N-MNIST


def test_nmnist_decodes_hand_written_bytes(tmp_path):
    events = [(0, 0, 1, 0), (33, 1, 0, 1), (5, 33, 1, 0x12345), (7, 9, 0, 2**23 - 1)]
    path = tmp_path / "sample.bin"
    path.write_bytes(b"".join(nmnist_record(*e) for e in events))
    ev = read_nmnist_bin(path)
    assert ev.dtype == EVENT_DTYPE
    assert list(zip(ev["x"].tolist(), ev["y"].tolist(), ev["p"].tolist(), ev["t"].tolist())) == events
    # the byte layout itself: byte 2 carries the polarity in bit 7 and timestamp bits 22..16
    assert path.read_bytes()[10:15] == bytes([5, 33, 0x80 | 0x01, 0x23, 0x45])


def test_nmnist_overflow_markers_shift_later_timestamps(tmp_path):
    raw = b"".join(
        [
            nmnist_record(1, 1, 1, 100),
            nmnist_record(0, 240, 0, 0),  # overflow marker: dropped, adds 2**13 from here on
            nmnist_record(2, 2, 0, 50),
            nmnist_record(9, 240, 1, 77),  # a second marker (its x, p and time bits are ignored)
            nmnist_record(3, 3, 1, 10),
        ]
    )
    ev = decode_nmnist(raw)
    assert ev["x"].tolist() == [1, 2, 3]
    assert ev["t"].tolist() == [100, 50 + 2**13, 10 + 2 * 2**13]
    wide = decode_nmnist(raw, overflow_increment=2**23)
    assert wide["t"].tolist() == [100, 50 + 2**23, 10 + 2 * 2**23]


def test_nmnist_empty_sample_and_bad_length(tmp_path):
    empty = tmp_path / "empty.bin"
    empty.write_bytes(b"")
    assert read_nmnist_bin(empty).size == 0
    only_marker = tmp_path / "marker.bin"
    only_marker.write_bytes(nmnist_record(0, 240, 0, 0))
    assert read_nmnist_bin(only_marker).size == 0
    bad = tmp_path / "bad.bin"
    bad.write_bytes(b"\x00" * 7)
    with pytest.raises(ValueError, match="bad.bin.*multiple of 5"):
        read_nmnist_bin(bad)
    with pytest.raises(FileNotFoundError, match="missing.bin"):
        read_nmnist_bin(tmp_path / "missing.bin")


def test_nmnist_writer_matches_hand_bytes_and_round_trips(tmp_path):
    rng = np.random.default_rng(0)
    ev = random_events(rng, 200, 34, 34, 300_000)
    hand = b"".join(
        nmnist_record(int(e["x"]), int(e["y"]), int(e["p"]), int(e["t"])) for e in ev
    )
    assert encode_nmnist(ev) == hand
    path = write_nmnist_bin(tmp_path / "a" / "b.bin", ev)
    assert path.read_bytes() == hand
    assert np.array_equal(read_nmnist_bin(path), ev)
    # timestamps beyond 23 bits need overflow markers; the round trip is exact for both increments
    long = random_events(rng, 300, 34, 34, 3 * 2**23)
    for inc in (2**13, 2**23):
        raw = encode_nmnist(long, overflow_increment=inc)
        assert len(raw) > 5 * long.size  # markers were inserted
        assert np.array_equal(decode_nmnist(raw, overflow_increment=inc), long)
    with pytest.raises(ValueError, match="reserved"):
        encode_nmnist(make_events([0], [240], [0], [0]))
    with pytest.raises(ValueError, match="one byte"):
        encode_nmnist(make_events([256], [0], [0], [0]))
    with pytest.raises(ValueError, match="sorted"):
        encode_nmnist(make_events([0, 0], [0, 0], [0, 0], [2**24, 5]))
    assert encode_nmnist(make_events([], [], [], [])) == b""


def test_nmnist_folder_layout_and_errors(tmp_path):
    rng = np.random.default_rng(1)
    written = {}
    for split in ("Train", "Test"):
        for digit in (0, 3, 9):
            for k in range(2):
                ev = random_events(rng, 20 + k, 34, 34, 1000)
                p = tmp_path / "NMNIST" / split / str(digit) / f"{k:05d}.bin"
                p.parent.mkdir(parents=True, exist_ok=True)
                p.write_bytes(b"".join(nmnist_record(int(e["x"]), int(e["y"]), int(e["p"]), int(e["t"])) for e in ev))
                written[(split, digit, k)] = ev
    (tmp_path / "NMNIST" / "Train" / "3" / "notes.txt").write_text("ignored")
    paths, labels = nmnist_index(tmp_path, "train")  # found under <data_dir>/NMNIST/
    assert labels.tolist() == [0, 0, 3, 3, 9, 9] and all(p.suffix == ".bin" for p in paths)
    samples = load_nmnist(tmp_path, "test", index=[5, 0])
    assert samples.labels.tolist() == [9, 0] and (samples.height, samples.width) == (34, 34)
    assert np.array_equal(samples[0], written[("Test", 9, 1)])
    assert np.array_equal(samples[1], written[("Test", 0, 0)])
    with pytest.raises(FileNotFoundError, match=r"Train/<digit 0-9>/\*\.bin"):
        nmnist_index(tmp_path / "nowhere", "train")
    (tmp_path / "empty" / "Test").mkdir(parents=True)
    with pytest.raises(FileNotFoundError, match="no .bin files"):
        nmnist_index(tmp_path / "empty", "test")
    with pytest.raises(ValueError, match="split"):
        nmnist_index(tmp_path, "val")


# -------------------------------------------------------------------------------------- DVS Gesture


def test_dvs_npy_numeric_and_structured(tmp_path):
    rng = np.random.default_rng(2)
    ev = random_events(rng, 50, 128, 128, 6_000_000)
    table = np.stack([ev["x"], ev["y"], ev["p"], ev["t"]], axis=1).astype(np.int64)
    np.save(tmp_path / "numeric.npy", table)  # written with plain numpy, independent of our writer
    assert np.array_equal(read_dvs_npy(tmp_path / "numeric.npy"), ev)
    np.save(tmp_path / "float_ms.npy", np.column_stack([table[:, :3], table[:, 3] / 1000.0]))
    assert np.array_equal(read_dvs_npy(tmp_path / "float_ms.npy", time_unit="ms"), ev)
    np.save(tmp_path / "structured.npy", ev)
    assert np.array_equal(read_dvs_npy(tmp_path / "structured.npy"), ev)
    np.save(tmp_path / "empty.npy", np.zeros((0, 4)))
    assert read_dvs_npy(tmp_path / "empty.npy").size == 0
    for kwargs in ({}, {"structured": True}, {"time_unit": "ms"}):
        unit = kwargs.get("time_unit", "us")
        path = write_dvs_npy(tmp_path / "w" / f"{len(kwargs)}{unit}.npy", ev, **kwargs)
        assert np.array_equal(read_dvs_npy(path, time_unit=unit), ev)
    np.save(tmp_path / "bad.npy", np.zeros((3, 5)))
    with pytest.raises(ValueError, match="bad.npy"):
        read_dvs_npy(tmp_path / "bad.npy")


def test_dvs_class_folder_layout(tmp_path):
    rng = np.random.default_rng(3)
    for split, per in (("train", 2), ("test", 1)):
        for label in (0, 2, 10):
            for k in range(per):
                write_dvs_npy(tmp_path / split / str(label) / f"s{k}.npy", random_events(rng, 30, 128, 128, 10**6))
    paths, labels, unit = dvs_gesture_index(tmp_path, "train")
    assert labels.tolist() == [0, 0, 2, 2, 10, 10] and unit == "us"
    samples = load_dvs_gesture(tmp_path, "test")
    assert samples.labels.tolist() == [0, 2, 10] and samples.counts.tolist() == [30, 30, 30]
    assert (samples.height, samples.width) == (128, 128)
    write_dvs_npy(tmp_path / "train" / "11" / "x.npy", random_events(rng, 3, 128, 128, 10))
    with pytest.raises(ValueError, match=r"0\.\.10"):
        dvs_gesture_index(tmp_path, "train")


def test_dvs_tonic_layout_uses_milliseconds(tmp_path):
    ev = make_events([1, 127], [2, 3], [1, 0], [1500, 2_000_250])
    table_ms = np.column_stack([ev["x"], ev["y"], ev["p"], ev["t"] / 1000.0]).astype(np.float64)
    for split in ("ibmGestureTrain", "ibmGestureTest"):
        for rec in ("user01_fluorescent", "user02_led"):
            for label in (0, 7):
                p = tmp_path / "DVSGesture" / split / rec / f"{label}.npy"
                p.parent.mkdir(parents=True, exist_ok=True)
                np.save(p, table_ms)
    paths, labels, unit = dvs_gesture_index(tmp_path, "train")
    assert unit == "ms" and sorted(labels.tolist()) == [0, 0, 7, 7]
    samples = load_dvs_gesture(tmp_path, "train")
    assert all(np.array_equal(samples[i], ev) for i in range(len(samples)))
    # an explicit time unit overrides the layout's default
    assert load_dvs_gesture(tmp_path, "test", time_unit="us")[0]["t"].tolist() == [2, 2000]


def test_dvs_missing_folder_names_both_layouts(tmp_path):
    with pytest.raises(FileNotFoundError) as err:
        dvs_gesture_index(tmp_path, "test")
    msg = str(err.value)
    assert "test/<label 0-10>/<sample>.npy" in msg and "ibmGestureTest" in msg and str(tmp_path) in msg


def test_dvs_events_outside_sensor_raise(tmp_path):
    write_dvs_npy(tmp_path / "train" / "1" / "a.npy", make_events([128], [0], [0], [0]))
    with pytest.raises(ValueError, match="outside the 128x128"):
        load_dvs_gesture(tmp_path, "train")


# ------------------------------------------------------------------------------------------- tonic


class FakeTonicDataset:
    """Quacks like a Tonic dataset: (structured events with x, y, t, p, target) pairs."""

    sensor_size = (34, 30, 2)  # Tonic's (width, height, polarities)
    dtype = np.dtype([("x", np.int16), ("y", np.int16), ("t", np.int64), ("p", bool)])

    def __init__(self):
        rng = np.random.default_rng(4)
        self.items = []
        for label in range(3):
            n = 10 + label
            ev = np.zeros(n, dtype=self.dtype)
            ev["x"], ev["y"] = rng.integers(0, 34, n), rng.integers(0, 30, n)
            ev["t"], ev["p"] = np.sort(rng.integers(0, 10**5, n)), rng.integers(0, 2, n).astype(bool)
            self.items.append((ev, label))

    def __len__(self):
        return len(self.items)

    def __getitem__(self, i):
        return self.items[i]


def test_from_tonic_converts_samples():
    ds = FakeTonicDataset()
    pairs = list(from_tonic(ds))
    assert [label for _, label in pairs] == [0, 1, 2]
    ev, _ = pairs[1]
    raw = ds.items[1][0]
    assert ev.dtype == EVENT_DTYPE and ev["t"].tolist() == raw["t"].tolist()
    assert ev["p"].tolist() == raw["p"].astype(int).tolist() and ev["x"].tolist() == raw["x"].tolist()
    assert len(list(from_tonic(ds, limit=2))) == 2
    samples = samples_from_tonic(ds)
    assert (samples.height, samples.width) == (30, 34) and samples.labels.tolist() == [0, 1, 2]
    with pytest.raises(TypeError, match="structured events"):
        list(from_tonic([(np.zeros((3, 4)), 0)]))


def test_sort_events_is_stable():
    ev = make_events([0, 1, 2, 3], [0, 0, 0, 0], [0, 0, 0, 0], [5, 1, 5, 1])
    assert sort_events(ev)["x"].tolist() == [1, 3, 0, 2]
