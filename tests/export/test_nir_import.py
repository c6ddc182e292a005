"""NIR import: export -> nir.write -> nir.read -> from_nir gives back a network with identical
spikes and outputs, for every form the export writes losslessly; anything else is refused by name."""

from __future__ import annotations

import sys
import warnings
from pathlib import Path

import nir  # imported directly: with the test extra installed these tests fail, never skip
import numpy as np
import pytest
import torch

from spikeopt.export import from_nir
from spikeopt.export.nir import export_nir, to_nir
from spikeopt.snn.network import ParallelLIFSNN

sys.path.insert(0, str(Path(__file__).parent))
from test_nir import run_graph  # the reference NIR interpreter of the export tests


def _net(reset="zero", readout="final", delays=(0,), depth=2, leak=1.0, subnetworks=3) -> ParallelLIFSNN:
    beta = torch.tensor([0.9, 0.8, 0.7, 0.95]).repeat(depth, subnetworks, 1)  # per-neuron leaks
    thr = torch.linspace(0.5, 0.9, 4).repeat(depth, subnetworks, 1)
    return ParallelLIFSNN(3, 2, subnetworks=subnetworks, width=4, depth=depth, beta=beta, threshold=thr,
                          reset_mechanism=reset, readout=readout, readout_leak=leak, delays=delays, init_scale=2.0,
                          seed=0).eval()


def _x(steps=25, batch=6) -> torch.Tensor:
    gen = torch.Generator().manual_seed(1)
    return torch.rand(steps, batch, 3, generator=gen) * 1.5


def _read_back(net, tmp_path, policy="refuse"):
    path = export_nir(net, tmp_path / "net.nir", reset_policy=policy)
    return nir.read(path)


CASES = [("zero", "refuse", "final", 1.0), ("none", "refuse", "final", 1.0), ("zero", "refuse", "integrate", 0.9),
         ("none", "refuse", "integrate", 1.0), ("zero", "refuse", "per_step", 1.0),
         ("subtract", "subgraph", "integrate", 0.8)]


@pytest.mark.parametrize("reset,policy,readout,leak", CASES)
@pytest.mark.parametrize("delays", [(0,), (0, 2, 5), (1, 3)])
def test_round_trip_gives_identical_spikes_and_outputs(tmp_path, reset, policy, readout, leak, delays):
    net, x = _net(reset, readout, delays, leak=leak), _x()
    graph = _read_back(net, tmp_path, policy)
    back = from_nir(graph).eval()
    assert (back.reset_mechanism, back.readout, back.delays, back.depth) == (reset, readout, net.delays, 2)
    assert (back.subnetworks, back.width, back.readout_leak) == (3, 4, leak)
    spikes = net.hidden_spikes(x)
    assert 0.05 < spikes.float().mean() < 0.95  # the comparison means something
    assert torch.equal(back.hidden_spikes(x), spikes)
    with torch.no_grad():
        assert torch.equal(back(x)[0], net(x)[0])
    # the imported network also runs like the graph under the independent interpreter
    outs = run_graph(graph, x.double().numpy())
    last = "lif1" if "lif1" in graph.nodes else "lif1_spike"
    np.testing.assert_array_equal(outs[last], back.double().hidden_spikes(x.double()).flatten(-2).numpy())


def test_reads_a_file_path_and_a_graph_without_subnetwork_metadata(tmp_path):
    net, x = _net(depth=3), _x()
    path = export_nir(net, tmp_path / "net.nir")
    assert torch.equal(from_nir(path).hidden_spikes(x), net.hidden_spikes(x))
    graph = nir.read(path)
    graph.metadata.pop("subnetworks")  # another producer: one wide subnetwork computes the same
    wide = from_nir(graph)
    assert (wide.subnetworks, wide.width) == (1, 12)
    with torch.no_grad():
        assert torch.allclose(wide(x)[0], net(x)[0], rtol=1e-6, atol=1e-6)
    assert torch.equal(wide.hidden_spikes(x).flatten(-2), net.hidden_spikes(x).flatten(-2))


def test_metadata_policy_export_is_refused_by_node(tmp_path):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        graph = _read_back(_net("subtract"), tmp_path, "metadata")
    with pytest.raises(ValueError, match=r"'lif0' \(LIF\).*reset_policy='subgraph'"):
        from_nir(graph)


def _edit(graph, name, **fields):
    node = graph.nodes[name]
    kwargs = {k: v for k, v in vars(node).items() if k in type(node).__dataclass_fields__ and k != "input_type"
              and k != "output_type"}
    kwargs.update(fields)
    graph.nodes[name] = type(node)(**kwargs)
    return graph


def test_graphs_that_do_not_map_are_refused_naming_the_node():
    net = _net()
    g = _edit(to_nir(net), "lif0", v_reset=np.full(12, 0.1))
    with pytest.raises(ValueError, match=r"'lif0' \(LIF\).*v_reset"):
        from_nir(g)
    g = _edit(to_nir(net), "lif1", v_leak=np.full(12, 0.2))
    with pytest.raises(ValueError, match=r"'lif1' \(LIF\).*v_leak"):
        from_nir(g)
    g = _edit(to_nir(net), "lif1", r=np.full(12, 3.0))
    with pytest.raises(ValueError, match=r"'lif1'.*r must equal tau / dt"):
        from_nir(g)
    g = to_nir(net)
    w = g.nodes["affine1"].weight.copy()
    w[0, -1] = 0.5  # a synapse between subnetworks 3 and 1
    g = _edit(g, "affine1", weight=w)
    with pytest.raises(ValueError, match=r"'affine1' \(Affine\).*subnetworks"):
        from_nir(g)
    g = to_nir(net)
    g.nodes["lif0"] = nir.CubaLIF(tau_syn=np.ones(12), tau_mem=np.ones(12), r=np.ones(12), v_leak=np.zeros(12),
                                  v_threshold=np.ones(12))
    with pytest.raises(ValueError, match=r"'lif0' \(CubaLIF\)"):
        from_nir(g)
    g = to_nir(_net(delays=(0, 2)))
    g = _edit(g, "delay2", delay=np.array([2e-4, 3e-4, 2e-4]))
    with pytest.raises(ValueError, match=r"'delay2' \(Delay\).*same whole number"):
        from_nir(g)
    g = to_nir(_net("subtract"), reset_policy="subgraph")
    g = _edit(g, "lif1_reset", scale=-0.5 * g.nodes["lif1_spike"].threshold)
    with pytest.raises(ValueError, match=r"'lif1_reset' \(Scale\).*exactly -threshold"):
        from_nir(g)
    with pytest.raises(TypeError, match="NIRGraph"):
        from_nir(net)
