"""NIR export: a :class:`ParallelLIFSNN` as a NIR graph that keeps its neuron model.

NIR (Neuromorphic Intermediate Representation, ``pip install nir``) describes neurons in
continuous time; a simulator discretises them with its own step ``dt``. We use the convention of
snnTorch's NIR exporter and importer (forward Euler, ``dt = 1e-4`` by default), under which
``tau = dt / (1 - beta)``, ``r = tau / dt`` and ``v_leak = 0`` give back exactly
``u[t] = beta * u[t-1] + I[t]``.

The graph (one wide layer for the ``K`` parallel subnetworks, ``K * width`` neurons, subnetwork-major):

- ``input -> [delay_d ->] affine0_d -> layer0 -> affine1 -> layer1 ... -> readout -> output``:
  each synaptic delay ``d > 0`` is a NIR ``Delay`` node (``d * dt``) in front of its own slice of
  the first weights; the slices' currents add up at the first layer (NIR sums converging edges).
  Hidden layers ``l > 0`` are block-diagonal ``Affine`` nodes (no weights between subnetworks).
- The neuron layer depends on the reset:

  ``zero``     a NIR ``LIF`` with ``v_reset = 0``: lossless (NIR's reset is to ``v_reset`` right
               after the spike, so the next step starts from ``beta * 0 + I``, as ours does).
  ``none``     ``LI`` then ``Threshold``: lossless.
  ``subtract`` (the default of spikeopt and snnTorch) has no NIR neuron. Export refuses unless a
               ``reset_policy`` is given:
               ``"subgraph"``: ``LI -> Threshold``, and ``Threshold -> Scale(-theta) -> LI`` as a
               recurrent edge. Exact under the convention of NIR's PyTorch libraries (nirtorch,
               snnTorch's recurrent exports) that an edge closing a cycle delivers the previous
               step's value, i.e. ``u[t] = beta u[t-1] + I[t] - theta s[t-1]``.
               ``"metadata"``: a NIR ``LIF`` (zero reset) whose metadata says
               ``reset_mechanism = "subtract"``; a warning says that importers will run a zero reset.
- The readout: ``final`` and ``per_step`` an ``Affine`` (take its last step, or every step);
  ``integrate`` an ``Affine`` into an ``LI`` (``readout_leak < 1``) or ``I`` (``readout_leak = 1``)
  read at the last step.

Graph metadata records the time step, the readout, the reset and which step(s) to read.
:func:`from_nir` (``export/nir_import.py``) reads these graphs back into a ``ParallelLIFSNN``.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from spikeopt.export.nir_import import from_nir  # noqa: F401 - the import side, re-exported here
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.validation import check_number

RESET_POLICIES = ("refuse", "subgraph", "metadata")
DEFAULT_DT = 1e-4  # snnTorch's NIR exporter and importer use this step


def _nir() -> Any:
    try:
        import nir
    except ImportError as err:  # pragma: no cover - depends on the environment
        raise ImportError("NIR export needs the nir package: pip install nir (or spikeopt[nir])") from err
    return nir


def _np(t: torch.Tensor) -> np.ndarray:
    return t.detach().cpu().to(torch.float64).numpy().copy()


def _leak_params(beta: np.ndarray, dt: float, what: str) -> tuple[np.ndarray, np.ndarray]:
    """``tau`` and ``r`` such that Euler with step ``dt`` gives ``v = beta v + I``; beta must be < 1."""
    if (beta >= 1.0).any():
        raise ValueError(
            f"{what}: beta = 1 (no leak) has no finite NIR time constant; NIR's IF neuron would be needed "
            "for every neuron of the layer. Use beta < 1 (e.g. 0.999) to export."
        )
    tau = dt / (1.0 - beta)
    return tau, tau / dt


def _block_diagonal(w: np.ndarray) -> np.ndarray:
    """``[K, fan_in, m]`` per-subnetwork weights -> NIR ``[K*m, K*fan_in]`` (out x in), zero between blocks."""
    k, fan_in, m = w.shape
    out = np.zeros((k * m, k * fan_in))
    for i in range(k):
        out[i * m:(i + 1) * m, i * fan_in:(i + 1) * fan_in] = w[i].T
    return out


def _neurons(nir: Any, name: str, beta: np.ndarray, thr: np.ndarray, reset: str, policy: str, dt: float):
    """NIR nodes and internal edges for one LIF layer; returns (nodes, edges, entry node, exit node)."""
    tau, r = _leak_params(beta, dt, name)
    zeros = np.zeros_like(beta)
    if reset == "zero" or (reset == "subtract" and policy == "metadata"):
        meta = {"reset_mechanism": reset}
        if reset == "subtract":
            meta["warning"] = "exported with a zero reset: importers will not subtract the threshold"
        node = nir.LIF(tau=tau, r=r, v_leak=zeros, v_threshold=thr.copy(), v_reset=zeros.copy(), metadata=meta)
        return {name: node}, [], name, name
    mem, spk = f"{name}_membrane", f"{name}_spike"
    nodes = {
        mem: nir.LI(tau=tau, r=r, v_leak=zeros, metadata={"reset_mechanism": reset}),
        spk: nir.Threshold(threshold=thr.copy()),
    }
    edges = [(mem, spk)]
    if reset == "subtract":  # policy == "subgraph"
        fb = f"{name}_reset"
        nodes[fb] = nir.Scale(scale=-thr, metadata={"role": "subtractive reset, arrives one step later"})
        edges += [(spk, fb), (fb, mem)]
    return nodes, edges, mem, spk


def to_nir(model: ParallelLIFSNN, reset_policy: str = "refuse", dt: float = DEFAULT_DT) -> Any:
    """The NIR graph (``nir.NIRGraph``) of ``model``; see the module docstring for the mapping.

    ``reset_policy`` matters only for ``reset_mechanism="subtract"``: ``"refuse"`` (the default)
    raises, ``"subgraph"`` writes the exact LI/Threshold/Scale loop, ``"metadata"`` writes a
    zero-reset LIF with the true reset in its metadata (and warns).
    """
    nir = _nir()
    if not isinstance(model, ParallelLIFSNN):
        raise TypeError(f"model must be a spikeopt ParallelLIFSNN, got {type(model).__name__}")
    if reset_policy not in RESET_POLICIES:
        raise ValueError(f"unknown reset_policy {reset_policy!r}; valid: {', '.join(RESET_POLICIES)}")
    check_number(dt, "dt (the simulator's time step)", 0.0, open_low=True)
    reset = model.reset_mechanism
    if reset == "subtract" and reset_policy == "refuse":
        raise ValueError(
            "this network resets by subtraction, which NIR's LIF neuron cannot express (it only resets to "
            "v_reset): exporting it as a LIF would change its spikes. Choose reset_policy='subgraph' "
            "(--reset-policy subgraph: an exact LI/Threshold loop with the subtraction as a recurrent edge) "
            "or reset_policy='metadata' (a zero-reset LIF noting the real reset; importers will use a zero reset)."
        )
    if model.spike_mode != "hard":
        raise ValueError(f"model.spike_mode is {model.spike_mode!r}; NIR has hard spikes: set spike_mode='hard'")
    if reset == "subtract" and reset_policy == "metadata":
        warnings.warn("NIR export with reset_policy='metadata': the LIF nodes reset to zero in every importer; "
                      "the subtractive reset is only recorded in node metadata", stacklevel=2)
    k, m, f = model.subnetworks, model.width, model.in_features
    nodes: dict[str, Any] = {"input": nir.Input(input_type=np.array([f]))}
    edges: list[tuple[str, str]] = []
    w0, b0 = _np(model.weights[0]), _np(model.biases[0]).reshape(-1)
    exits = []
    for i, d in enumerate(model.delays):
        name = "affine0" if len(model.delays) == 1 else f"affine0_delay{d}"
        # [K*m, F]: every subnetwork sees the whole (delayed) input
        weight = w0[:, i * f:(i + 1) * f, :].transpose(0, 2, 1).reshape(k * m, f)
        bias = b0 if i == 0 else np.zeros_like(b0)
        nodes[name] = nir.Affine(weight=weight, bias=bias)
        if d == 0:
            edges.append(("input", name))
        else:
            delay = f"delay{d}"
            nodes[delay] = nir.Delay(delay=np.full(f, d * dt), metadata={"steps": d})
            edges += [("input", delay), (delay, name)]
        exits.append(name)
    for layer in range(model.depth):
        if layer > 0:
            name = f"affine{layer}"
            nodes[name] = nir.Affine(weight=_block_diagonal(_np(model.weights[layer])),
                                     bias=_np(model.biases[layer]).reshape(-1))
            edges += [(e, name) for e in exits]
            exits = [name]
        beta = _np(model.beta[layer]).reshape(-1)
        thr = _np(model.threshold[layer]).reshape(-1)
        new, inner, entry, out = _neurons(nir, f"lif{layer}", beta, thr, reset, reset_policy, dt)
        nodes.update(new)
        edges += [(e, entry) for e in exits] + inner
        exits = [out]
    nodes["readout"] = nir.Affine(weight=_np(model.output.weight), bias=_np(model.output.bias))
    edges += [(e, "readout") for e in exits]
    last = "readout"
    if model.readout == "integrate":
        o = model.out_features
        if model.readout_leak >= 1.0:
            nodes["integrator"] = nir.I(r=np.full(o, 1.0 / dt))
        else:
            tau, r = _leak_params(np.full(o, model.readout_leak), dt, "integrate readout")
            nodes["integrator"] = nir.LI(tau=tau, r=r, v_leak=np.zeros(o))
        edges.append(("readout", "integrator"))
        last = "integrator"
    nodes["output"] = nir.Output(output_type=np.array([model.out_features]))
    edges.append((last, "output"))
    meta = {
        "producer": "spikeopt",
        "dt": float(dt),
        "discretisation": "forward Euler with step dt; an edge closing a cycle delivers the previous step's value",
        "reset_mechanism": reset,
        "reset_policy": reset_policy if reset == "subtract" else "lossless",
        "readout": model.readout,
        "read_output_at": "every step" if model.readout == "per_step" else "the last step",
        "subnetworks": k,
        "width": m,
        "delays_steps": np.array(model.delays, dtype=np.int64),
    }
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def export_nir(
    model: ParallelLIFSNN, path: str | Path, reset_policy: str = "refuse", dt: float = DEFAULT_DT,
) -> Path:
    """Write ``to_nir(model, reset_policy, dt)`` to ``path`` (NIR's HDF5 format) and return the path."""
    nir = _nir()
    graph = to_nir(model, reset_policy, dt)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    nir.write(path, graph)
    return path
