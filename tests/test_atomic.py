"""atomic_write: the target is replaced whole or not at all, and no temporary file stays behind."""

import pytest

from spikeopt.atomic import atomic_write


def test_writes_and_replaces(tmp_path):
    target = tmp_path / "sub" / "out.json"
    with atomic_write(target, "w") as fh:
        fh.write("first")
    with atomic_write(target) as fh:
        fh.write(b"second")
    assert target.read_text() == "second"
    assert sorted(p.name for p in target.parent.iterdir()) == ["out.json"]


def test_an_error_keeps_the_old_file_and_leaves_no_temp(tmp_path):
    target = tmp_path / "out.bin"
    target.write_bytes(b"old")
    with pytest.raises(RuntimeError):
        with atomic_write(target) as fh:
            fh.write(b"half")
            raise RuntimeError("killed")
    assert target.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["out.bin"]


def test_bad_mode_is_named(tmp_path):
    with pytest.raises(ValueError, match="mode"):
        with atomic_write(tmp_path / "x", "a"):
            pass
