"""Complete witnessed dictionaries: hand-known dichotomy counts for T = 1, snnTorch replays of every
witness, brute-force sampling as a lower bound for T > 1, and the certify --complete comparison."""

import itertools

import numpy as np
import pytest
import snntorch as snn
import torch

from spikeopt.cli import main
from spikeopt.convex.complete import complete_patterns, network_objective, witness_network


def snntorch_final_spikes(x: np.ndarray, w: np.ndarray, b: np.ndarray, beta: float, threshold: float,
                          reset: str = "subtract") -> np.ndarray:
    """Final-step spikes [M, N] of M independent neurons (weights w [M, F], biases b [M]), by snnTorch."""
    lif = snn.Leaky(beta=beta, threshold=threshold, reset_mechanism=reset)
    xt = torch.tensor(x, dtype=torch.float64)
    mem = torch.zeros(x.shape[1], len(b), dtype=torch.float64)
    for t in range(x.shape[0]):
        spk, mem = lif(xt[t] @ torch.tensor(w).T + torch.tensor(b), mem)
    return spk.T.numpy().astype(np.uint8)


def as_set(patterns: np.ndarray) -> set[tuple[int, ...]]:
    return {tuple(int(v) for v in p) for p in patterns}


def test_three_points_in_general_position_give_all_eight_dichotomies():
    x = np.array([[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]]])  # T = 1, N = 3, F = 2
    found = complete_patterns(x)
    assert as_set(found.patterns) == set(itertools.product((0, 1), repeat=3))


def test_square_misses_exactly_the_two_xor_dichotomies():
    x = np.array([[[0.0, 0.0], [1.0, 0.0], [0.0, 1.0], [1.0, 1.0]]])
    found = complete_patterns(x)
    assert as_set(found.patterns) == set(itertools.product((0, 1), repeat=4)) - {(0, 1, 1, 0), (1, 0, 0, 1)}


def test_points_on_a_line_give_prefixes_and_suffixes():
    x = np.array([[[0.0], [1.0], [2.0], [3.0]]])
    expected = {(0, 0, 0, 0), (1, 1, 1, 1), (0, 0, 0, 1), (0, 0, 1, 1), (0, 1, 1, 1),
                (1, 0, 0, 0), (1, 1, 0, 0), (1, 1, 1, 0)}
    assert as_set(complete_patterns(x).patterns) == expected


@pytest.mark.parametrize("steps", [2, 3])
def test_witnesses_replay_in_snntorch_and_cover_random_sampling(steps):
    seqs = np.array(list(itertools.product((0.0, 1.0), repeat=steps))).T[:, :, None]  # all binary sequences
    seqs = seqs[:, [0, 3, 5, 6]] if steps == 3 else seqs  # keep the test fast: 4 sequences of 3 steps
    found = complete_patterns(seqs, beta=0.9, threshold=1.0)
    assert np.array_equal(snntorch_final_spikes(seqs, found.weights, found.biases, 0.9, 1.0), found.patterns)
    rng = np.random.default_rng(0)
    scale = rng.choice([0.3, 1.0, 3.0, 10.0], size=(20000, 2))
    sampled = snntorch_final_spikes(seqs, rng.normal(size=(20000, 1)) * scale[:, :1], rng.normal(size=20000) * scale[:, 1],
                                    0.9, 1.0)
    assert as_set(sampled) <= as_set(found.patterns)
    if steps == 2:  # 4 sequences: 14 patterns, every one hit by sampling (first XOR last is not)
        assert len(found.patterns) == 14 and as_set(sampled) == as_set(found.patterns)
        assert (0, 1, 1, 0) not in as_set(found.patterns)


@pytest.mark.parametrize("reset", ["zero", "none"])
def test_other_resets_replay_in_the_library_network(reset):
    rng = np.random.default_rng(1)
    x = rng.normal(size=(3, 3, 1)) + 0.5
    found = complete_patterns(x, beta=0.8, threshold=1.0, reset_mechanism=reset)
    net = witness_network(found, in_features=1)
    spikes = net.hidden(torch.tensor(x, dtype=torch.float32))[0][-1].reshape(3, -1).T.numpy().astype(np.uint8)
    assert np.array_equal(spikes, found.patterns)
    assert len(as_set(found.patterns)) == len(found.patterns)


def test_network_objective_matches_a_hand_computed_network():
    from spikeopt.tasks.base import Head

    found = complete_patterns(np.array([[[0.0], [2.0]]]))  # two 1-step inputs: patterns 00, 01, 10, 11
    k = [tuple(p) for p in found.patterns].index((0, 1))  # the neuron that fires on the second input only
    net = witness_network(found, in_features=1, out_features=2)
    with torch.no_grad():
        net.output.weight.zero_()
        net.output.weight[:, k] = torch.tensor([3.0, -4.0])  # one column of norm 5
        net.output.bias.copy_(torch.tensor([0.5, 0.0]))
    # by hand: sample 0 has logits (0.5, 0), label 0; sample 1 has (3.5, -4), label 1
    ce = [np.log(np.exp(0.5) + 1.0) - 0.5, np.log(np.exp(3.5) + np.exp(-4.0)) + 4.0]
    value = network_objective(net, torch.tensor([[[0.0], [2.0]]]), torch.tensor([[0], [1]]), (Head("c", 2),), reg=0.1)
    assert value["penalty"] == pytest.approx(5.0) and value["objective"] == pytest.approx(np.mean(ce) + 0.5)


def test_bad_inputs():
    with pytest.raises(ValueError, match=r"\[T, N, F\]"):
        complete_patterns(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="beta must be one number"):
        complete_patterns(np.zeros((1, 2, 1)), beta=np.array([0.5, 0.6]))
    with pytest.raises(ValueError, match="max_cells"):
        complete_patterns(np.random.default_rng(0).normal(size=(2, 6, 2)), max_cells=3)


def test_certify_complete_beats_sampled_and_sg(tmp_path, capsys):
    out = tmp_path / "c.json"
    assert main(["certify", "--complete", "--task", "first-last-xor", "--steps", "2", "--n-train", "64",
                 "--n-val", "16", "--n-test", "16", "--subnetworks", "2", "--width", "2", "--depth", "1",
                 "--reg", "0.01", "--epochs", "3", "--no-progress", "--out", str(out)]) == 0
    text = capsys.readouterr().out
    assert "complete <= sampled and complete <= SG: yes" in text
    import json

    report = json.loads(out.read_text())
    rows = report["rows"]
    assert report["enumeration"]["patterns"] == 14 and rows["complete"]["atoms"] == 13  # the zero pattern dropped
    assert rows["sampled"]["atoms_outside_complete"] == 0
    assert rows["complete"]["network_objective"]["objective"] == pytest.approx(rows["complete"]["objective"], abs=1e-5)
    assert rows["sampled"]["objective"] >= rows["complete"]["dual"] - 1e-9
    assert rows["sg"]["objective"] >= rows["complete"]["dual"] - 1e-9
