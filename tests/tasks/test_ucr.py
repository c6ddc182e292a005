"""The ucr task: .ts / .tsv files written here by hand, checked value by value; label maps, errors,
splits and the command line."""

import json

import numpy as np
import pytest

from spikeopt.cli import main
from spikeopt.tasks import make_task
from spikeopt.tasks.ucr_files import read_ts, read_tsv

# 2 dimensions, 3 classes declared in the order c b a, 4 steps per series, 6 training samples
TRAIN_TS = """# a comment line
@problemName Toy
@timeStamps false
@missing false
@univariate false
@dimensions 2
@equalLength true
@seriesLength 4
@classLabel true c b a
@data
1,2,3,4:10,20,30,40:a
0,0,0,1:5,5,5,5:b
2,2,2,2:1,2,1,2:c
4,3,2,1:0,0,0,8:a
1,1,2,2:3,3,4,4:b
9,8,7,6:1,1,1,1:c
"""

TEST_TS = """@problemName Toy
@timeStamps false
@univariate false
@dimensions 2
@equalLength true
@seriesLength 4
@classLabel true c b a
@data
0.5,1.5,2.5,3.5:1,2,3,4:b
1,0,1,0:2,2,2,2:c
"""


def write(path, text):
    path.write_text(text)
    return path


@pytest.fixture
def toy(tmp_path):
    write(tmp_path / "Toy_TRAIN.ts", TRAIN_TS)
    write(tmp_path / "Toy_TEST.ts", TEST_TS)
    return tmp_path


def test_read_ts_value_by_value(toy):
    raw = read_ts(toy / "Toy_TRAIN.ts")
    assert raw.classes == ["c", "b", "a"]
    assert raw.labels == ["a", "b", "c", "a", "b", "c"]
    assert raw.lines == [11, 12, 13, 14, 15, 16]
    assert raw.series[0].tolist() == [[1, 2, 3, 4], [10, 20, 30, 40]]
    assert raw.series[3].tolist() == [[4, 3, 2, 1], [0, 0, 0, 8]]


def test_raw_values_time_major_and_declared_label_order(toy):
    task = make_task("ucr", data_dir=str(toy), dataset="Toy", znorm=False, max_steps="none", val_fraction=0.4)
    assert task.classes == ["c", "b", "a"] and task.in_features == 2 and task.heads[0].classes == 3
    test = task.splits(0)["test"]
    assert tuple(test.x.shape) == (4, 2, 2)  # [T, N, F]
    assert test.x[:, 0, 0].tolist() == [0.5, 1.5, 2.5, 3.5]
    assert test.x[:, 0, 1].tolist() == [1, 2, 3, 4]
    assert test.x[:, 1, 0].tolist() == [1, 0, 1, 0]
    assert test.y[:, 0].tolist() == [1, 0]  # b -> 1, c -> 0


def test_znorm_by_hand(toy):
    task = make_task("ucr", data_dir=str(toy), dataset="Toy", max_steps=None)
    # test sample 1, dimension 0: 1,0,1,0 -> mean 0.5, std 0.5 -> 1,-1,1,-1; dimension 1 constant -> 0
    x = task.splits(0)["test"].x
    assert x[:, 1, 0].tolist() == [1, -1, 1, -1]
    assert x[:, 1, 1].tolist() == [0, 0, 0, 0]


def test_pooling_averages_consecutive_steps(toy):
    task = make_task("ucr", data_dir=str(toy), dataset="Toy", znorm=False, max_steps=3)
    # T = 4, max 3 -> windows of k = 2: (0.5+1.5)/2, (2.5+3.5)/2
    x = task.splits(0)["test"].x
    assert x[:, 0, 0].tolist() == [1.0, 3.0] and x[:, 0, 1].tolist() == [1.5, 3.5]


def test_tsv_in_subfolder_sorted_numeric_labels(tmp_path):
    folder = tmp_path / "Uni"
    folder.mkdir()
    write(folder / "Uni_TRAIN.tsv", "10\t1\t2\t3\n9\t0\t0\t1\n10\t3\t2\t1\n9\t5\t5\t6\n2\t1\t1\t1\n2\t0\t1\t0\n")
    write(folder / "Uni_TEST.tsv", "9\t1.5\t2\t2.5\n2\t0\t0\t0\n")
    task = make_task("ucr", data_dir=str(tmp_path), dataset="Uni", znorm=False, max_steps=None)
    assert task.classes == ["2", "9", "10"]  # numeric order, not "10" < "2"
    test = task.splits(0)["test"]
    assert test.x[:, 0, 0].tolist() == [1.5, 2.0, 2.5] and test.y[:, 0].tolist() == [1, 0]


def test_tsv_trailing_nan_padding_is_a_shorter_series(tmp_path):
    raw = read_tsv(write(tmp_path / "a.tsv", "1\t1\t2\tNaN\tNaN\n2\t1\t2\t3\t4\n"))
    assert raw.series[0].tolist() == [[1, 2]] and raw.series[1].shape == (1, 4)


def test_unequal_length_error_or_resample(tmp_path):
    write(tmp_path / "U_TRAIN.tsv", "1\t0\t2\t4\t6\t8\n1\t1\t1\t1\t1\t1\n2\t0\t1\t2\n2\t5\t5\t5\t5\t5\n")
    write(tmp_path / "U_TEST.tsv", "1\t0\t3\n")
    with pytest.raises(ValueError, match=r"U_TRAIN.tsv:3: series of 3 steps.*--unequal-length resample"):
        make_task("ucr", data_dir=str(tmp_path), dataset="U").splits(0)
    task = make_task("ucr", data_dir=str(tmp_path), dataset="U", znorm=False, max_steps=None,
                     unequal_length="resample", val_fraction=0.5)
    split = task.splits(0)
    assert split["test"].x[:, 0, 0].tolist() == [0, 0.75, 1.5, 2.25, 3.0]  # 0..3 onto 5 points
    train_x = np.concatenate([split["train"].x[:, :, 0].T.numpy(), split["val"].x[:, :, 0].T.numpy()])
    assert [0, 0.5, 1, 1.5, 2] in train_x.tolist()


def test_missing_value_refused_with_line(tmp_path):
    write(tmp_path / "M_TRAIN.ts", "@classLabel true x y\n@data\n1,?,3:x\n1,2,3:y\n1,2,3:x\n1,2,3:y\n")
    write(tmp_path / "M_TEST.ts", "@classLabel true x y\n@data\n1,2,3:x\n")
    with pytest.raises(ValueError, match=r"M_TRAIN.ts:3: missing values"):
        make_task("ucr", data_dir=str(tmp_path), dataset="M").splits(0)


def test_unseen_test_label_names_file_and_line(tmp_path):
    write(tmp_path / "L_TRAIN.tsv", "1\t1\t2\n2\t2\t1\n1\t0\t2\n2\t3\t1\n")
    write(tmp_path / "L_TEST.tsv", "1\t1\t2\n3\t2\t1\n")
    with pytest.raises(ValueError, match=r"L_TEST.tsv:2: label '3' never occurs in L_TRAIN.tsv"):
        make_task("ucr", data_dir=str(tmp_path), dataset="L").splits(0)


@pytest.mark.parametrize(
    "text, message",
    [
        ("@classLabel true a b\n@data\n1,2:a\n1,2,3:b\n", r"_TRAIN.ts:3: series of 2 steps, but the TRAIN series have 3"),
        ("@classLabel true a b\n@data\n1,2:a\n1,2:3,4:b\n", r"_TRAIN.ts:4: 2 dimensions, but line 3 has 1"),
        ("@classLabel true a b\n@data\n1,2:a\n1,x:b\n", r"_TRAIN.ts:4: cannot read a number"),
        ("@classLabel true a b\n@data\n1,2:a\n1,2:z\n", r"_TRAIN.ts:4: label 'z' is not among the declared"),
        ("@timeStamps true\n@classLabel true a b\n@data\n", r"@timeStamps true are not supported"),
        ("@classLabel false\n@data\n1,2\n", r"no class labels"),
        ("@classLabel true a b\n1,2:a\n", r"_TRAIN.ts:2: expected a header line"),
    ],
)
def test_bad_ts_files(tmp_path, text, message):
    write(tmp_path / "B_TRAIN.ts", text)
    write(tmp_path / "B_TEST.ts", "@classLabel true a b\n@data\n1,2:a\n")
    with pytest.raises(ValueError, match=message):
        make_task("ucr", data_dir=str(tmp_path), dataset="B").splits(0)


def test_missing_files_and_options(tmp_path):
    with pytest.raises(FileNotFoundError, match="no UCR files for dataset 'Nope'"):
        make_task("ucr", data_dir=str(tmp_path), dataset="Nope")
    with pytest.raises(ValueError, match="needs the options data_dir and dataset"):
        make_task("ucr", dataset="X")
    write(tmp_path / "Toy_TRAIN.ts", TRAIN_TS)
    write(tmp_path / "Toy_TEST.ts", TEST_TS)
    for bad in (dict(val_fraction=1.0), dict(max_steps=0), dict(unequal_length="pad"), dict(znorm="yes")):
        with pytest.raises(ValueError):
            make_task("ucr", data_dir=str(tmp_path), dataset="Toy", **bad)


def test_validation_split_is_stratified_and_seeded(tmp_path):
    rows = [f"{c}\t{i}\t{i + 1}\t{c}" for c in (1, 2, 3) for i in range(10)]
    write(tmp_path / "S_TRAIN.tsv", "\n".join(rows) + "\n")
    write(tmp_path / "S_TEST.tsv", "1\t0\t0\t0\n")
    task = make_task("ucr", data_dir=str(tmp_path), dataset="S", znorm=False, max_steps=None, val_fraction=0.3)
    a, b, c = task.splits(0), task.splits(0), task.splits(1)
    assert np.bincount(a["val"].y[:, 0].numpy()).tolist() == [3, 3, 3]
    assert np.bincount(a["train"].y[:, 0].numpy()).tolist() == [7, 7, 7]
    assert a["val"].x.equal(b["val"].x) and not a["val"].x.equal(c["val"].x)
    # train and val partition TRAIN: every (first value, class) pair exactly once
    seen = sorted((int(x), int(y)) for part in ("train", "val")
                  for x, y in zip(a[part].x[0, :, 0], a[part].y[:, 0]))
    assert seen == sorted((i, c) for c in range(3) for i in range(10))


def test_cli_trains_cvx_on_ucr_files(tmp_path, capsys):
    rng = np.random.default_rng(0)
    for part, n in (("TRAIN", 24), ("TEST", 12)):
        lines = []
        for i in range(n):
            label = i % 2
            series = rng.normal(size=12) + (np.linspace(-1, 1, 12) if label else 0)
            lines.append(",".join(f"{v:.5f}" for v in series) + f":{'up' if label else 'flat'}")
        write(tmp_path / f"Syn_{part}.ts", "@classLabel true flat up\n@data\n" + "\n".join(lines) + "\n")
    out = tmp_path / "r.json"
    assert main(["train", "--task", "ucr", "--data-dir", str(tmp_path), "--dataset", "Syn", "--max-steps", "6",
                 "--method", "cvx", "--subnetworks", "4", "--width", "4", "--reg", "0.01", "--out", str(out)]) == 0
    result = json.loads(out.read_text())
    assert result["config"]["task_options"]["dataset"] == "Syn"
    assert result["certificate"]["gap"] <= 1e-6 and 0.0 <= result["metrics"]["test"]["accuracy"] <= 1.0
    assert "certificate" in capsys.readouterr().out
