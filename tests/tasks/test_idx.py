"""IDX reader/writer on small files written here."""

import gzip
import struct

import numpy as np
import pytest

from spikeopt.tasks.idx import read_idx, read_idx_shape, write_idx

DTYPES = [np.uint8, np.int8, np.int16, np.int32, np.float32, np.float64]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_roundtrip(tmp_path, dtype, suffix) -> None:
    rng = np.random.default_rng(0)
    array = (rng.standard_normal((3, 4, 5)) * 50).astype(dtype)
    path = tmp_path / f"a-idx3{suffix}"
    write_idx(path, array)
    back = read_idx(path)
    assert back.dtype == np.dtype(dtype) and back.dtype.isnative
    np.testing.assert_array_equal(back, array)
    assert read_idx_shape(path) == (3, 4, 5)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == (suffix == ".gz")


def test_reads_hand_written_big_endian_file(tmp_path) -> None:
    # int16 [2, 2]: 1, -2, 256, 3 big-endian, written by hand (independent of write_idx)
    payload = bytes([0, 0, 0x0B, 2]) + struct.pack(">II", 2, 2) + struct.pack(">4h", 1, -2, 256, 3)
    (tmp_path / "plain").write_bytes(payload)
    (tmp_path / "packed.gz").write_bytes(gzip.compress(payload))
    for name in ("plain", "packed.gz"):
        np.testing.assert_array_equal(read_idx(tmp_path / name), np.array([[1, -2], [256, 3]], dtype=np.int16))


def test_gzip_detected_from_content_not_name(tmp_path) -> None:
    path = tmp_path / "labels-idx1-ubyte"  # no .gz suffix, gzip content
    path.write_bytes(gzip.compress(bytes([0, 0, 8, 1]) + struct.pack(">I", 3) + bytes([7, 8, 9])))
    assert read_idx(path).tolist() == [7, 8, 9]


def test_bad_files(tmp_path) -> None:
    good = bytes([0, 0, 8, 2]) + struct.pack(">II", 2, 3) + bytes(range(6))
    cases = {
        "magic": (b"\x01" + good[1:], "magic"),
        "dtype": (bytes([0, 0, 0x0A]) + good[3:], "magic"),
        "short": (good[:3], "too short"),
        "header": (good[:9], "truncated IDX header"),
        "data": (good[:-1], "truncated IDX data"),
        "extra": (good + b"\x00", "unexpected bytes"),
    }
    for name, (content, message) in cases.items():
        (tmp_path / name).write_bytes(content)
        with pytest.raises(ValueError, match=message):
            read_idx(tmp_path / name)
    (tmp_path / "cut.gz").write_bytes(gzip.compress(good)[:-6])
    with pytest.raises(ValueError, match="gzip"):
        read_idx(tmp_path / "cut.gz")


def test_write_rejects_unsupported(tmp_path) -> None:
    with pytest.raises(TypeError, match="uint8"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))
    with pytest.raises(ValueError, match="dimensions"):
        write_idx(tmp_path / "x", np.array(3, dtype=np.uint8))
