"""Sizes that cannot fit fail at once with a MemoryError that names the sizes and what to lower."""

import pytest
import torch

from spikeopt.cli import main
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.tasks.registry import make_task
from spikeopt.train import memory
from spikeopt.train.admm import ADMMConfig, fit_admm
from spikeopt.train.sast import SASTConfig, train_sast
from spikeopt.train.surrogate import SGConfig, train_sg


def test_estimates_match_a_hand_count():
    # K=2, m=3, depth 2, F=4, O=5: hidden 2*(4*3 + 3*3 + 2*3) = 54, readout 2*3*5 + 5 = 35
    assert memory.network_parameters(4, 5, 2, 3, 2) == 89
    # all steps at once (rollout="full"; the blocked default is checked in test_memory_rollout.py)
    # T=7, N=100, batch 10: params 5 copies + activations 7 * (2*3*2) * (6*10 + 3*100), float32
    assert memory.gradient_training_bytes(7, 100, 4, 5, 2, 3, 2, batch_size=10, rollout="full") == 4 * (5 * 89 + 7 * 12 * 360)
    # ADMM, float64: 100 samples x T=7 x (4 + 4*3*2 + 2*5) + grams 2 * (3+4)^2 * 2
    assert memory.admm_bytes(7, 100, 4, 5, 3, 2) == 8 * (100 * 7 * 38 + 2 * 49 * 2)


def test_check_fits_names_sizes_and_advice():
    with pytest.raises(MemoryError, match=r"needs about 1.0 GiB \(sizes here\) but only 1 MiB is free; lower it"):
        memory.check_fits(2**30, "this", "sizes here", "lower it", limit=2**20)
    memory.check_fits(2**20, "this", "sizes", "advice", limit=2**30)  # fits: no error


@pytest.fixture(scope="module")
def xor():
    task = make_task("first-last-xor", steps=8, n_train=64, n_val=16, n_test=16)
    return task, task.splits(0)


def test_sg_and_sast_refuse_before_allocating(xor):
    task, splits = xor
    net = ParallelLIFSNN(task.in_features, task.out_features, subnetworks=20000, width=2000, readout="final")
    with pytest.raises(MemoryError, match="20000 subnetworks x 2000 width"):
        train_sg(net, task, splits["train"], splits["val"], SGConfig(epochs=1, progress=False))
    with pytest.raises(MemoryError, match="SAST training needs about"):
        train_sast(net, task, splits["train"], splits["val"], SASTConfig(epochs=1, progress=False))


def test_admm_refuses_before_allocating(xor):
    task, splits = xor
    train = splits["train"]
    with pytest.raises(MemoryError, match="lower --width"):
        fit_admm(train.x, train.y, [2], width=300_000, depth=1, cfg=ADMMConfig(iterations=2, progress=False))


def test_cli_refuses_the_terabyte_run(tmp_path, capsys):
    out = tmp_path / "r.json"
    assert main(["train", "--task", "first-last-xor", "--subnetworks", "20000", "--width", "2000",
                 "--no-progress", "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "MemoryError" not in err[0]
    assert "sg training needs about" in err[0] and "20000 subnetworks x 2000 width" in err[0]
    assert not out.exists()


def test_warmup_defaults_to_a_fraction_of_the_iterations():
    assert ADMMConfig(iterations=300).warmup_iterations == 90
    assert ADMMConfig(iterations=1000).warmup_iterations == 300  # the paper's Table 1
    assert ADMMConfig(iterations=1).warmup_iterations == 0
    assert ADMMConfig(iterations=10, warmup=4).warmup_iterations == 4
    with pytest.raises(ValueError, match="warmup"):
        ADMMConfig(iterations=10, warmup=10)


def test_float64_inputs_train_like_float32(xor):
    """float64 data is cast to the network's dtype: the same run as with float32 data."""
    from spikeopt.tasks.base import SequenceData

    task, splits = xor
    runs = []
    for dtype in (torch.float32, torch.float64):
        data = {k: SequenceData(v.x.to(dtype), v.y) for k, v in splits.items()}
        net = ParallelLIFSNN(task.in_features, task.out_features, subnetworks=2, width=4, seed=0)
        train_sg(net, task, data["train"], data["val"], SGConfig(epochs=2, progress=False), seed=0)
        runs.append((net.output.weight.detach().clone(), task.evaluate(net, data["test"])))
    assert torch.equal(runs[0][0], runs[1][0]) and runs[0][1] == runs[1][1]
