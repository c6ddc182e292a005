"""SynOps and energy: a hand-computed network, and spike counts against snnTorch."""

from __future__ import annotations

import pytest
import snntorch as snn  # imported directly: with the test extra installed this fails, never skips
import torch

from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.synops import ENERGY_PJ, count_operations


def _hand_net(readout="final") -> ParallelLIFSNN:
    """K=2 subnetworks of width 1, depth 2, 3 outputs; only subnetwork 0 ever fires."""
    net = ParallelLIFSNN(1, 3, subnetworks=2, width=1, depth=2, beta=0.5, threshold=1.0, readout=readout)
    with torch.no_grad():
        net.weights[0].copy_(torch.tensor([[[2.0]], [[0.0]]]))
        net.weights[1].copy_(torch.tensor([[[1.5]], [[1.5]]]))
        for b in net.biases:
            b.zero_()
    return net


def test_hand_computed_binary_input():
    # input 1,0,1 -> layer 0 of subnetwork 0: u = 2 (spike), 0.5*2 - 1 = 0, 2 (spike)
    # layer 1: u = 1.5 (spike), 0.75 - 1 = -0.25, -0.125 + 1.5 = 1.375 (spike)
    x = torch.tensor([1.0, 0.0, 1.0]).reshape(3, 1, 1)
    r = count_operations(_hand_net(), x)
    assert r["binary_input"] is True
    assert r["spikes_per_sample"] == {"layer0": 2.0, "layer1": 2.0}
    assert r["firing_rate"]["layer0"] == pytest.approx(2 / 6)
    # 2 input events x 1 synapse (subnetwork 1's input weight is 0: no synapse); 2 layer-0 spikes x
    # 1 synapse; the final readout reads 1 spike x 3 outputs
    assert r["synops_per_sample"] == {"input": 2.0, "hidden": 2.0, "readout": 3.0, "total": 7.0}
    assert r["synops_per_sample_step"] == pytest.approx(7 / 3)
    assert r["ops_per_sample"] == {"synaptic_ac": 7.0, "synaptic_mac": 0.0, "neuron_mac": 12}
    assert r["dense_macs_per_sample"] == 3 * 2 * (1 + 1) + 2 * 3
    assert r["energy_pj_per_sample"]["synaptic"] == pytest.approx(7 * 0.9)
    assert r["energy_pj_per_sample"]["neuron"] == pytest.approx(12 * 4.6)
    assert ENERGY_PJ == {"ac": 0.9, "mac": 4.6} and "Horowitz" in r["energy_source"]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_hand_computed_case_on_cuda():
    x = torch.tensor([1.0, 0.0, 1.0]).reshape(3, 1, 1)
    r = count_operations(_hand_net().cuda(), x.cuda())
    assert r["synops_per_sample"] == {"input": 2.0, "hidden": 2.0, "readout": 3.0, "total": 7.0}


def test_hand_computed_real_input_and_per_step_readout():
    # input 0.5,0,2 -> layer 0: u = 1 (not > 1), 0.5, 0.25 + 4 = 4.25 (spike); layer 1: 0, 0, 1.5 (spike)
    x = torch.tensor([0.5, 0.0, 2.0]).reshape(3, 1, 1)
    r = count_operations(_hand_net("per_step"), x)
    assert r["binary_input"] is False
    assert r["spikes_per_sample"] == {"layer0": 1.0, "layer1": 1.0}
    assert r["synops_per_sample"] == {"input": 2.0, "hidden": 1.0, "readout": 3.0, "total": 6.0}
    assert r["ops_per_sample"]["synaptic_mac"] == 2.0 and r["ops_per_sample"]["synaptic_ac"] == 4.0
    assert r["energy_pj_per_sample"]["synaptic"] == pytest.approx(2 * 4.6 + 4 * 0.9)


def test_zero_readout_weights_are_no_synapses():
    net = _hand_net()
    with torch.no_grad():
        net.output.weight[:2, 0] = 0.0  # the firing neuron now reaches 1 of the 3 outputs
    r = count_operations(net, torch.tensor([1.0, 0.0, 1.0]).reshape(3, 1, 1))
    assert r["synops_per_sample"]["readout"] == 1.0
    assert r["dense_macs_per_sample"] == 3 * 2 * (1 + 1) + 2 * 3  # the dense peer keeps every weight


def test_spike_counts_match_snntorch_and_do_not_depend_on_batching():
    torch.manual_seed(0)
    net = ParallelLIFSNN(4, 2, subnetworks=3, width=5, depth=1, beta=0.8, threshold=1.0, init_scale=3.0, seed=1)
    x = torch.rand(12, 7, 4)
    lif = snn.Leaky(beta=0.8, threshold=1.0, reset_mechanism="subtract")
    w, b = net.weights[0].detach(), net.biases[0].detach()
    mem, total = lif.init_leaky(), 0.0
    with torch.no_grad():
        for t in range(x.shape[0]):
            spk, mem = lif(torch.einsum("bf,kfm->bkm", x[t], w) + b, mem)
            total += float(spk.sum())
    assert total > 0
    for batch in (7, 3):
        r = count_operations(net, x, batch_size=batch)
        assert r["spikes_per_sample"]["layer0"] == pytest.approx(total / 7)


def test_bad_arguments():
    with pytest.raises(TypeError, match="ParallelLIFSNN"):
        count_operations(torch.nn.Linear(1, 1), torch.zeros(2, 1, 1))
    with pytest.raises(ValueError, match="batch_size"):
        count_operations(_hand_net(), torch.zeros(2, 1, 1), batch_size=0)
    with pytest.raises(ValueError, match="time-major"):
        count_operations(_hand_net(), torch.zeros(2, 1))


@pytest.mark.parametrize("method", ["sg", "cvx", "admm"])
def test_every_result_carries_synops_of_its_final_network(tmp_path, method):
    import json

    from spikeopt.cli import main
    from spikeopt.export.checkpoint import load_model

    out, saved = tmp_path / "r.json", tmp_path / "m.pt"
    args = ["train", "--task", "first-last-xor", "--steps", "4", "--n-train", "64", "--n-val", "32", "--n-test", "32",
            "--method", method, "--subnetworks", "4", "--width", "4", "--epochs", "1", "--reg", "0.01",
            "--admm-iterations", "2", "--no-progress", "--out", str(out), "--save", str(saved)]
    assert main(args) == 0
    result = json.loads(out.read_text())
    synops = result["synops"]
    assert synops["split"] == "test" and synops["samples"] == 32
    model, _ = load_model(saved)
    assert synops["spikes_per_sample"].keys() == {f"layer{i}" for i in range(model.depth)}
    assert synops["synops_per_sample"]["total"] == pytest.approx(
        sum(v for k, v in synops["synops_per_sample"].items() if k != "total"))
    assert synops["energy_pj_per_sample"]["total"] > 0
    from spikeopt.tasks.registry import make_task

    options = {k: v for k, v in result["task"].items() if k != "name"}
    test = make_task(result["task"]["name"], **options).splits(result["seed"])["test"]
    assert count_operations(model, test.x)["spikes_per_sample"] == pytest.approx(synops["spikes_per_sample"])
