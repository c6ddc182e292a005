"""NIR export round trips: write, ``nir.read`` back, run with an interpreter written here, compare.

The interpreter below knows nothing of spikeopt: it runs NIR nodes by their documented equations
(forward Euler with the graph's ``dt``; an edge closing a cycle delivers the previous step's value,
the convention of NIR's PyTorch libraries). Lossless cases must give identical spikes.
"""

from __future__ import annotations

import warnings

import nir  # imported directly: with the test extra installed these tests fail, never skip
import numpy as np
import pytest
import torch

from spikeopt.export import save_model
from spikeopt.export.nir import export_nir, to_nir
from spikeopt.snn.network import ParallelLIFSNN


# ------------------------------------------------------------------ reference interpreter
def _order(graph) -> list[str]:
    """Reverse DFS post-order from the inputs: every node after its predecessors, back edges aside."""
    succ: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for a, b in graph.edges:
        succ[a].append(b)
    seen, post = set(), []

    def visit(n):
        seen.add(n)
        for s in succ[n]:
            if s not in seen:
                visit(s)
        post.append(n)

    for name, node in graph.nodes.items():
        if isinstance(node, nir.Input) and name not in seen:
            visit(name)
    return post[::-1]


def run_graph(graph, x: np.ndarray) -> dict[str, np.ndarray]:
    """Every node's output for input ``x [T, B, F]``: ``{name: [T, B, ...]}``."""
    dt = float(graph.metadata["dt"])
    order = _order(graph)
    pos = {n: i for i, n in enumerate(order)}
    preds: dict[str, list[str]] = {n: [] for n in graph.nodes}
    for a, b in graph.edges:
        preds[b].append(a)
    steps, batch = x.shape[:2]
    state: dict[str, np.ndarray] = {}
    prev: dict[str, np.ndarray] = {}
    history: dict[str, list[np.ndarray]] = {}
    outs: dict[str, list[np.ndarray]] = {n: [] for n in order}
    for t in range(steps):
        cur: dict[str, np.ndarray] = {}
        for name in order:
            node = graph.nodes[name]
            if isinstance(node, nir.Input):
                cur[name] = x[t]
                outs[name].append(cur[name])
                continue
            inp = 0.0
            for p in preds[name]:
                if pos[p] < pos[name]:
                    inp = inp + cur[p]
                else:  # an edge closing a cycle: the previous step's value (zero before the first)
                    inp = inp + prev.get(p, 0.0)
            if isinstance(node, nir.Affine):
                y = inp @ node.weight.T + node.bias
            elif isinstance(node, nir.Linear):
                y = inp @ node.weight.T
            elif isinstance(node, nir.Scale):
                y = inp * node.scale
            elif isinstance(node, nir.Delay):
                lag = int(round(float(node.delay.reshape(-1)[0]) / dt))
                assert np.allclose(node.delay, lag * dt)
                history.setdefault(name, []).append(inp * np.ones((batch, node.delay.size)))
                y = history[name][-1 - lag] if len(history[name]) > lag else np.zeros((batch, node.delay.size))
            elif isinstance(node, nir.LIF):
                v = state.get(name, np.zeros((batch, node.tau.size)))
                v = v + dt / node.tau * (node.v_leak - v + node.r * inp)
                y = (v > node.v_threshold).astype(float)
                state[name] = np.where(y > 0, node.v_reset, v)
            elif isinstance(node, nir.LI):
                v = state.get(name, np.zeros((batch, node.tau.size)))
                y = state[name] = v + dt / node.tau * (node.v_leak - v + node.r * inp)
            elif isinstance(node, nir.I):
                v = state.get(name, np.zeros((batch, node.r.size)))
                y = state[name] = v + dt * node.r * inp
            elif isinstance(node, nir.Threshold):
                y = (inp > node.threshold).astype(float)
            elif isinstance(node, nir.Output):
                y = inp
            else:
                raise AssertionError(f"interpreter does not know {type(node).__name__}")
            cur[name] = y
            outs[name].append(y)
        prev = cur
    return {n: np.stack(v) for n, v in outs.items()}


# ------------------------------------------------------------------------------ helpers
def _net(reset="zero", readout="final", delays=(0,), depth=2, leak=1.0, seed=0) -> ParallelLIFSNN:
    beta = torch.tensor([0.9, 0.8, 0.7, 0.95]).repeat(depth, 3, 1)  # per-neuron leaks
    net = ParallelLIFSNN(3, 2, subnetworks=3, width=4, depth=depth, beta=beta, threshold=0.7,
                         reset_mechanism=reset, readout=readout, readout_leak=leak, delays=delays,
                         init_scale=2.0, seed=seed)
    return net.double().eval()


def _x(steps=25, batch=6, seed=1) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.rand(steps, batch, 3, generator=gen, dtype=torch.float64) * 1.5


def _round_trip(net, tmp_path, policy="refuse"):
    path = export_nir(net, tmp_path / "net.nir", reset_policy=policy)
    return nir.read(path)


def _last_spikes(graph, outs, depth) -> np.ndarray:
    name = f"lif{depth - 1}" if f"lif{depth - 1}" in graph.nodes else f"lif{depth - 1}_spike"
    return outs[name]


# -------------------------------------------------------------------------------- tests
@pytest.mark.parametrize("reset,policy", [("zero", "refuse"), ("none", "refuse"), ("subtract", "subgraph")])
@pytest.mark.parametrize("delays", [(0,), (0, 2, 5)])
def test_lossless_round_trip_gives_identical_spikes(tmp_path, reset, policy, delays):
    net, x = _net(reset, delays=delays), _x()
    graph = _round_trip(net, tmp_path, policy)
    outs = run_graph(graph, x.numpy())
    spikes = net.hidden_spikes(x).flatten(-2).numpy()
    assert 0.05 < spikes.mean() < 0.95  # the comparison means something
    np.testing.assert_array_equal(_last_spikes(graph, outs, 2), spikes)
    np.testing.assert_allclose(outs["output"][-1], net(x)[0].detach().numpy(), rtol=1e-9, atol=1e-9)


def test_delays_become_delay_nodes_of_the_right_length(tmp_path):
    graph = _round_trip(_net("zero", delays=(0, 2, 5)), tmp_path)
    dt = float(graph.metadata["dt"])
    delays = {n: node for n, node in graph.nodes.items() if isinstance(node, nir.Delay)}
    assert sorted(delays) == ["delay2", "delay5"]
    np.testing.assert_allclose(delays["delay5"].delay, np.full(3, 5 * dt))


def test_without_the_delay_nodes_spikes_change(tmp_path):
    """The delays matter: dropping them from the graph changes the spikes (so the test above can fail)."""
    net, x = _net("zero", delays=(0, 2, 5)), _x()
    graph = _round_trip(net, tmp_path)
    for node in graph.nodes.values():
        if isinstance(node, nir.Delay):
            node.delay = np.zeros_like(node.delay)
    outs = run_graph(graph, x.numpy())
    assert (_last_spikes(graph, outs, 2) != net.hidden_spikes(x).flatten(-2).numpy()).any()


def test_subtract_reset_is_refused_without_a_policy():
    with pytest.raises(ValueError, match="reset_policy='subgraph'"):
        to_nir(_net("subtract"))


def test_metadata_policy_warns_and_importers_see_a_zero_reset(tmp_path):
    net, x = _net("subtract"), _x()
    with pytest.warns(UserWarning, match="reset to zero"):
        graph = _round_trip(net, tmp_path, "metadata")
    assert graph.nodes["lif0"].metadata["reset_mechanism"] == "subtract"
    outs = run_graph(graph, x.numpy())
    zero = _net("zero")
    zero.load_state_dict(net.state_dict())
    got = _last_spikes(graph, outs, 2)
    np.testing.assert_array_equal(got, zero.hidden_spikes(x).flatten(-2).numpy())
    assert (got != net.hidden_spikes(x).flatten(-2).numpy()).any()  # the change the warning is about


@pytest.mark.parametrize("leak", [1.0, 0.8])
def test_integrate_readout(tmp_path, leak):
    net, x = _net("zero", readout="integrate", leak=leak), _x()
    outs = run_graph(_round_trip(net, tmp_path), x.numpy())
    np.testing.assert_allclose(outs["output"][-1], net(x)[0].detach().numpy(), rtol=1e-8, atol=1e-8)


def test_per_step_readout(tmp_path):
    net, x = _net("none", readout="per_step", depth=1), _x()
    graph = _round_trip(net, tmp_path)
    assert graph.metadata["read_output_at"] == "every step"
    outs = run_graph(graph, x.numpy())
    np.testing.assert_allclose(outs["output"], net(x)[0].detach().numpy(), rtol=1e-9, atol=1e-9)


def test_lif_parameters_follow_snntorch_convention():
    """tau = dt / (1 - beta), r = tau / dt, v_leak = 0, v_reset = 0 (snnTorch's exporter does the same)."""
    graph = to_nir(_net("zero", depth=1), dt=1e-3)
    lif = graph.nodes["lif0"]
    beta = np.tile([0.9, 0.8, 0.7, 0.95], 3)
    np.testing.assert_allclose(lif.tau, 1e-3 / (1 - beta), rtol=1e-6)  # beta was float32
    np.testing.assert_allclose(lif.r, 1 / (1 - beta), rtol=1e-6)
    np.testing.assert_array_equal(lif.v_leak, 0.0)
    np.testing.assert_array_equal(lif.v_reset, 0.0)
    np.testing.assert_allclose(lif.v_threshold, 0.7, rtol=1e-6)


def test_bad_arguments_are_named():
    net = _net("zero")
    with pytest.raises(ValueError, match="reset_policy"):
        to_nir(net, reset_policy="ignore")
    with pytest.raises(ValueError, match="dt"):
        to_nir(net, dt=0.0)
    with pytest.raises(TypeError, match="ParallelLIFSNN"):
        to_nir(torch.nn.Linear(2, 2))
    with pytest.raises(ValueError, match="beta = 1"):
        to_nir(ParallelLIFSNN(2, 2, subnetworks=1, width=2, beta=1.0, reset_mechanism="zero"))


def test_cli_export(tmp_path, capsys):
    from spikeopt.cli import main

    net = _net("subtract")
    save_model(net, tmp_path / "m.pt")
    out = tmp_path / "m.nir"
    assert main(["export", str(tmp_path / "m.pt"), "--format", "nir", "--out", str(out)]) == 2
    assert "reset-policy" in capsys.readouterr().err
    assert not out.exists()
    assert main(["export", str(tmp_path / "m.pt"), "--out", str(out), "--reset-policy", "subgraph"]) == 0
    x = _x()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        outs = run_graph(nir.read(out), x.numpy())
    np.testing.assert_array_equal(outs["lif1_spike"], net.hidden_spikes(x).flatten(-2).numpy())
