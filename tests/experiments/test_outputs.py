"""Output paths are checked before any work: folders, files as parents, read-only places."""

import os

import pytest

from spikeopt.experiments.outputs import check_distinct, check_output_file, check_output_folder


def test_good_paths_pass_and_create_nothing(tmp_path):
    assert check_output_file(tmp_path / "r.json") == tmp_path / "r.json"
    assert check_output_file(tmp_path / "new" / "deeper" / "m.pt")  # folders are created later, by the writer
    assert check_output_folder(tmp_path / "report")
    existing = tmp_path / "old.json"
    existing.write_text("{}")
    assert check_output_file(existing)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["old.json"]  # the probe file is gone


def test_bad_paths_raise_the_right_error(tmp_path):
    (tmp_path / "afile").write_text("x")
    with pytest.raises(IsADirectoryError, match="is a folder"):
        check_output_file(tmp_path, "--out")
    with pytest.raises(NotADirectoryError, match="is a file, not a folder"):
        check_output_file(tmp_path / "afile" / "sub" / "m.pt", "--save")
    with pytest.raises(NotADirectoryError, match="is a file; give a folder"):
        check_output_folder(tmp_path / "afile")
    with pytest.raises(PermissionError, match="cannot create files in /proc"):
        check_output_file("/proc/spikeopt-test.json")  # read-only even for root
    with pytest.raises(OSError, match="free"):
        check_output_file(tmp_path / "r.json", min_free=1 << 62)
    with pytest.raises(ValueError, match="same file"):
        check_distinct({"--out": tmp_path / "x", "--save": str(tmp_path / "." / "x")})


@pytest.mark.skipif(os.geteuid() == 0, reason="root may write anywhere; the /proc case covers read-only places")
def test_unwritable_folder(tmp_path):
    folder = tmp_path / "locked"
    folder.mkdir(mode=0o500)
    with pytest.raises(PermissionError, match="cannot create files"):
        check_output_file(folder / "m.pt")
