"""NIR import: read back, into a :class:`ParallelLIFSNN`, the graphs that :func:`to_nir` writes losslessly.

Why only those: a NIR graph can hold any wiring, and a ParallelLIFSNN is one fixed shape. Rather than
approximate, :func:`from_nir` accepts exactly the forms whose meaning our network reproduces step for
step (same convention as the export: forward Euler with the graph's ``dt``, ``beta = 1 - dt / tau``,
``r = tau / dt``, ``v_leak = 0``) and refuses anything else naming the node that does not fit:

    Input -> [Delay ->] Affine (one per synaptic delay, summed) -> layer 0 -> Affine -> layer 1 ...
          -> Affine (readout) -> [LI | I (integrating readout)] -> Output

where a layer is a ``LIF`` with ``v_reset = 0`` (reset ``zero``), ``LI -> Threshold`` (reset ``none``),
or ``LI -> Threshold`` with the recurrent ``Threshold -> Scale(-threshold) -> LI`` edge of the
``subgraph`` policy (reset ``subtract``). A LIF written with ``reset_policy="metadata"`` is refused:
its graph resets to zero while the network it came from subtracted, so neither reading is safe.

Hidden weights come back block-diagonal over the graph's ``subnetworks`` (metadata); without that
metadata the layer is read as one subnetwork of full width, which computes the same.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import torch

from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.validation import check_number

RTOL = 1e-9  # parameters written in float64 from float32 values come back well inside this


def _nir() -> Any:
    try:
        import nir
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("NIR import needs the nir package: pip install nir (or spikeopt[nir])") from err
    return nir


class _Graph:
    """Nodes with their successors and predecessors, and the checks that name the offending node."""

    def __init__(self, graph: Any) -> None:
        self.nodes: dict[str, Any] = dict(graph.nodes)
        self.succ: dict[str, list[str]] = {n: [] for n in self.nodes}
        self.pred: dict[str, list[str]] = {n: [] for n in self.nodes}
        for a, b in graph.edges:
            if a not in self.nodes or b not in self.nodes:
                raise ValueError(f"NIR edge ({a!r}, {b!r}) names a node the graph does not have")
            self.succ[a].append(b)
            self.pred[b].append(a)

    def kind(self, name: str) -> str:
        return type(self.nodes[name]).__name__

    def refuse(self, name: str, why: str) -> ValueError:
        return ValueError(f"NIR node {name!r} ({self.kind(name)}) does not map onto a spikeopt ParallelLIFSNN: {why}")

    def only_successor(self, name: str, but: tuple[str | None, ...] = ()) -> str:
        nxt = [n for n in self.succ[name] if n not in but]
        if len(nxt) != 1:
            raise self.refuse(name, f"expected exactly one outgoing edge, found {len(nxt)} ({nxt})")
        return nxt[0]

    def of_kind(self, kind: str) -> list[str]:
        return [n for n in self.nodes if self.kind(n) == kind]


def _array(node: Any, field: str) -> np.ndarray:
    return np.asarray(getattr(node, field), dtype=np.float64).reshape(-1)


def _close(a: np.ndarray, b: np.ndarray | float) -> bool:
    return bool(np.allclose(a, b, rtol=RTOL, atol=0.0))


def _beta(g: _Graph, name: str, dt: float) -> np.ndarray:
    """``beta = 1 - dt / tau`` of an LI or LIF node, after checking ``r = tau / dt`` and ``v_leak = 0``."""
    node = g.nodes[name]
    tau, r, v_leak = _array(node, "tau"), _array(node, "r"), _array(node, "v_leak")
    if (tau <= 0).any() or not np.isfinite(tau).all():
        raise g.refuse(name, "tau must be finite and > 0")
    if not _close(r * dt, tau):
        raise g.refuse(name, f"r must equal tau / dt (dt = {dt:g}) so that a step adds the input current unscaled")
    if (v_leak != 0).any():
        raise g.refuse(name, "v_leak must be 0 (our neurons leak towards 0)")
    beta = 1.0 - dt / tau
    if (beta < 0).any():
        raise g.refuse(name, f"tau must be >= dt = {dt:g} (beta = 1 - dt / tau must lie in [0, 1))")
    return beta


def _layer(g: _Graph, entry: str, dt: float) -> tuple[np.ndarray, np.ndarray, str, str, str | None]:
    """One neuron layer starting at ``entry``: (beta, threshold, reset mechanism, exit node, reset loop node)."""
    nir = _nir()
    node = g.nodes[entry]
    if isinstance(node, nir.LIF):
        meta = getattr(node, "metadata", None) or {}
        if meta.get("reset_mechanism", "zero") != "zero":
            raise g.refuse(entry, f"it was exported with reset_policy='metadata' from a network with "
                                  f"reset_mechanism={meta['reset_mechanism']!r}; the graph resets to zero, so it "
                                  "runs differently from that network. Re-export with reset_policy='subgraph'")
        if (_array(node, "v_reset") != 0).any():
            raise g.refuse(entry, "v_reset must be 0 (our zero reset)")
        return _beta(g, entry, dt), _array(node, "v_threshold"), "zero", entry, None
    if not isinstance(node, nir.LI):
        raise g.refuse(entry, "expected a neuron layer: LIF (v_reset = 0) or LI -> Threshold")
    beta = _beta(g, entry, dt)
    spike = g.only_successor(entry, but=())
    if not isinstance(g.nodes[spike], nir.Threshold):
        raise g.refuse(spike, f"expected the Threshold that follows the membrane {entry!r}")
    thr = _array(g.nodes[spike], "threshold")
    loops = [n for n in g.pred[entry] if n in g.succ[spike]]
    if not loops:
        return beta, thr, "none", spike, None
    fb = loops[0]
    if len(loops) != 1 or not isinstance(g.nodes[fb], nir.Scale) or g.pred[fb] != [spike]:
        raise g.refuse(fb, f"the only loop allowed is {spike!r} -> Scale(-threshold) -> {entry!r} (subtractive reset)")
    if not _close(_array(g.nodes[fb], "scale"), -thr):
        raise g.refuse(fb, "a reset loop must scale by exactly -threshold (subtractive reset)")
    return beta, thr, "subtract", spike, fb


def _first_layer(g: _Graph, source: str, dt: float, n_in: int) -> tuple[list[int], list[np.ndarray], np.ndarray, str]:
    """The delay lines and first weights: (delays, weights [K*m, F] per delay, summed bias, first neuron node)."""
    nir = _nir()
    delays, weights, bias, targets = [], [], None, set()
    for name in g.succ[source]:
        steps, affine = 0, name
        if isinstance(g.nodes[name], nir.Delay):
            d = _array(g.nodes[name], "delay") / dt
            steps = round(float(d[0])) if d.size else -1
            if d.size != n_in or steps < 1 or not _close(d, float(steps)):
                raise g.refuse(name, f"a delay must be the same whole number (>= 1) of steps dt = {dt:g} "
                                     f"for all {n_in} inputs")
            affine = g.only_successor(name)
        node = g.nodes[affine]
        if not isinstance(node, (nir.Affine, nir.Linear)):
            raise g.refuse(affine, "expected the Affine (or Linear) weights of the first layer")
        w = np.asarray(node.weight, dtype=np.float64)
        if w.ndim != 2 or w.shape[1] != n_in:
            raise g.refuse(affine, f"weight must be [neurons, {n_in}], got {list(w.shape)}")
        b = _array(node, "bias") if isinstance(node, nir.Affine) else np.zeros(w.shape[0])
        bias = b if bias is None else bias + b
        delays.append(steps)
        weights.append(w)
        targets.add(g.only_successor(affine))
    if not delays:
        raise g.refuse(source, "the input feeds nothing")
    if len(set(delays)) != len(delays):
        raise g.refuse(source, f"two input paths have the same delay ({sorted(delays)} steps)")
    if len(targets) != 1 or len({w.shape[0] for w in weights}) != 1:
        raise g.refuse(source, f"every delayed copy of the input must feed the same first layer, found {sorted(targets)}")
    order = np.argsort(delays)
    return [delays[i] for i in order], [weights[i] for i in order], bias, targets.pop()


def _blocks(g: _Graph, name: str, w: np.ndarray, k: int) -> np.ndarray:
    """NIR ``[K*m, K*m]`` block-diagonal hidden weights -> ``[K, m, m]`` (in x out); off-block weights refused."""
    m = w.shape[0] // k
    out = np.zeros((k, m, m))
    rest = w.copy()
    for i in range(k):
        out[i] = w[i * m:(i + 1) * m, i * m:(i + 1) * m].T
        rest[i * m:(i + 1) * m, i * m:(i + 1) * m] = 0.0
    if (rest != 0).any():
        raise g.refuse(name, f"weights connect the graph's {k} subnetworks to each other; ParallelLIFSNN keeps "
                             "them separate")
    return out


def from_nir(graph: Any, dt: float | None = None) -> ParallelLIFSNN:
    """A :class:`ParallelLIFSNN` running ``graph`` (a ``nir.NIRGraph`` or a path to a ``.nir`` file).

    ``dt`` is the simulator step the time constants were written for; ``None`` takes the graph's
    ``dt`` metadata (spikeopt writes it), else :data:`spikeopt.export.nir.DEFAULT_DT`.
    """
    nir = _nir()
    from spikeopt.export.nir import DEFAULT_DT  # here: export/nir.py imports this module at its top

    if isinstance(graph, (str, Path)):
        graph = nir.read(graph)
    if not isinstance(graph, nir.NIRGraph):
        raise TypeError(f"graph must be a nir.NIRGraph or a path to a .nir file, got {type(graph).__name__}")
    meta = dict(getattr(graph, "metadata", None) or {})
    if dt is None:
        dt = float(meta.get("dt", DEFAULT_DT))
    check_number(dt, "dt (the time step the graph was written for)", 0.0, open_low=True)
    g = _Graph(graph)
    for name in g.nodes:
        if isinstance(g.nodes[name], nir.NIRGraph):
            raise g.refuse(name, "nested subgraphs are not read; flatten the graph first")
    inputs, outputs = g.of_kind("Input"), g.of_kind("Output")
    if len(inputs) != 1 or len(outputs) != 1:
        raise ValueError(f"a ParallelLIFSNN graph has one Input and one Output node, found {inputs} and {outputs}")
    n_in = int(np.prod(np.asarray(g.nodes[inputs[0]].input_type["input"])))

    delays, w0, b0, entry = _first_layer(g, inputs[0], dt, n_in)
    n = w0[0].shape[0]
    k = int(meta.get("subnetworks", 1))
    if k < 1 or n % k:
        k = 1
    m = n // k
    layers = []  # (beta, threshold, reset, weight_in [K, fan_in, m] or None, bias [K*m])
    weight_in, bias_in = None, b0
    while True:
        beta, thr, reset, exit_, loop = _layer(g, entry, dt)
        if beta.size != n or thr.size != n:
            raise g.refuse(entry, f"expected {n} neurons (the width of the layer before), found {beta.size}")
        layers.append((beta, thr, reset, weight_in, bias_in))
        affine = g.only_successor(exit_, but=(loop,))
        node = g.nodes[affine]
        if not isinstance(node, (nir.Affine, nir.Linear)):
            raise g.refuse(affine, f"expected Affine weights after the layer ending at {exit_!r}")
        w = np.asarray(node.weight, dtype=np.float64)
        b = _array(node, "bias") if isinstance(node, nir.Affine) else np.zeros(w.shape[0])
        nxt = g.only_successor(affine)
        follows = g.nodes[nxt]
        is_layer = isinstance(follows, nir.LIF) or (
            isinstance(follows, nir.LI) and any(isinstance(g.nodes[s], nir.Threshold) for s in g.succ[nxt]))
        if not is_layer:
            readout_w, readout_b, after = w, b, nxt
            break
        if w.shape != (n, n):
            raise g.refuse(affine, f"hidden weights must be [{n}, {n}], got {list(w.shape)}")
        weight_in, bias_in, entry = _blocks(g, affine, w, k), b, nxt
    if len({r for _, _, r, _, _ in layers}) != 1:
        raise g.refuse(entry, "every layer must reset the same way")
    if readout_w.ndim != 2 or readout_w.shape[1] != n:
        raise g.refuse(affine, f"readout weights must be [outputs, {n}], got {list(readout_w.shape)}")
    n_out = readout_w.shape[0]
    readout, leak = str(meta.get("readout", "final")), 1.0
    if isinstance(g.nodes[after], nir.Output):
        if readout not in ("final", "per_step"):
            raise g.refuse(after, f"the graph's metadata says readout {readout!r}, but no integrator precedes the output")
    else:
        node = g.nodes[after]
        if isinstance(node, nir.LI):
            leaks = _beta(g, after, dt)
        elif isinstance(node, nir.I):
            if not _close(_array(node, "r") * dt, 1.0):
                raise g.refuse(after, f"an integrating readout I must have r = 1 / dt (dt = {dt:g})")
            leaks = np.ones(n_out)
        else:
            raise g.refuse(after, "expected the Output, or an LI / I integrating readout before it")
        if leaks.size != n_out or not _close(leaks, leaks[0]):
            raise g.refuse(after, "an integrating readout must have one leak shared by all outputs")
        if not isinstance(g.nodes[g.only_successor(after)], nir.Output):
            raise g.refuse(g.only_successor(after), "expected the Output after the integrating readout")
        readout, leak = "integrate", float(leaks[0])

    model = ParallelLIFSNN(
        n_in, n_out, subnetworks=k, width=m, depth=len(layers), readout=readout, readout_leak=leak,
        reset_mechanism=layers[0][2], delays=delays,
        beta=torch.tensor(np.stack([b for b, *_ in layers]).reshape(len(layers), k, m), dtype=torch.float32),
        threshold=torch.tensor(np.stack([t for _, t, *_ in layers]).reshape(len(layers), k, m), dtype=torch.float32),
    )
    with torch.no_grad():
        first = np.concatenate([w.reshape(k, m, n_in).transpose(0, 2, 1) for w in w0], axis=1)  # [K, F*D, m]
        model.weights[0].copy_(torch.from_numpy(first))
        for layer, (_, _, _, w_in, b_in) in enumerate(layers):
            if layer > 0:
                model.weights[layer].copy_(torch.from_numpy(w_in))
            model.biases[layer].copy_(torch.from_numpy(b_in.reshape(k, m)))
        model.output.weight.copy_(torch.from_numpy(readout_w))
        model.output.bias.copy_(torch.from_numpy(readout_b))
    return model
