"""Spike counts, synaptic operations (SynOps) and an energy estimate of a trained network.

Why: methods that reach the same accuracy can differ tenfold in spikes, and spikes are what
neuromorphic hardware pays for. Every result carries these numbers beside its accuracy.

What is counted, per sample (one inference over ``T`` steps), on the inputs given:

- **input synapses** (input -> first layer): every nonzero entry of the (delayed) input drives the
  first-layer neurons it has a nonzero weight to (all ``K * width`` in a dense net). Binary inputs
  (events, 0/1) make these accumulates (AC); real inputs make them multiply-accumulates (MAC).
- **hidden synapses** (layer ``l-1`` -> ``l``): every spike drives the next-layer neurons of its own
  subnetwork it has a nonzero weight to: ACs.
- **readout synapses**: every spike the readout reads drives the outputs it has a nonzero weight to
  (ACs). The ``final`` readout reads only the last step's spikes; ``per_step`` and ``integrate``
  read every step. Zero weights are not synapses (the convex readout is group-sparse: neurons of a
  kept witness subnetwork that the solution does not use cost nothing past their own update).
- **neuron updates**: one leak multiply-add (``beta * u + I``) per neuron per step (MACs), plus the
  integrating readout's leak per output per step.

``synops`` is the sum of synaptic events (input, hidden and readout). ``dense_macs`` is what the same
architecture would do as a non-spiking network (every synapse every step) -- the usual peer.

Energy uses 45 nm CMOS figures for 32-bit floating point from M. Horowitz, "Computing's energy
problem (and what we can do about it)", ISSCC 2014, pp. 10-14: add 0.9 pJ, multiply 3.7 pJ, so an
AC costs 0.9 pJ and a MAC 4.6 pJ. Memory access (often the larger cost) is not included; the
constants are in :data:`ENERGY_PJ` and can be replaced by a chip's own.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from spikeopt.probe import record_layers
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.validation import check_int

ENERGY_PJ = {"ac": 0.9, "mac": 4.6}
ENERGY_SOURCE = ("Horowitz, 'Computing's energy problem (and what we can do about it)', ISSCC 2014: "
                 "45 nm, 32-bit float add 0.9 pJ, multiply 3.7 pJ (MAC = 4.6 pJ); memory access not included")


def synapse_fanout(model: ParallelLIFSNN) -> dict[str, Tensor]:
    """How many nonzero outgoing weights (synapses) each source has, float64.

    ``input``: per delayed input feature ``[F * len(delays)]``; ``layer{l}``: per neuron of hidden
    layer ``l`` into layer ``l + 1`` ``[K * width]``; ``readout``: per neuron of the last layer into
    the outputs. A zero weight is no synapse: a pruned or sparse readout (the convex method's) saves
    those operations on hardware, so they are not counted.
    """
    with torch.no_grad():
        out = {"input": (model.weights[0] != 0).sum(dim=(0, 2)).double()}
        for layer in range(1, model.depth):
            out[f"layer{layer - 1}"] = (model.weights[layer] != 0).sum(dim=2).flatten().double()
        out["readout"] = (model.output.weight != 0).sum(dim=0).double()
    return {k: v.cpu() for k, v in out.items()}


BATCH_BYTES = 256 * 2**20  # currents, spikes and the delayed input of one batch stay below this


def count_operations(model: ParallelLIFSNN, x: Tensor, batch_size: int | None = None) -> dict[str, Any]:
    """Spike counts, SynOps and energy per sample on ``x [T, N, in_features]`` (see the module docstring).

    ``batch_size=None`` picks the largest batch whose per-layer tensors fit in :data:`BATCH_BYTES`.
    """
    if not isinstance(model, ParallelLIFSNN):
        raise TypeError(f"model must be a spikeopt ParallelLIFSNN, got {type(model).__name__}")
    check_int(batch_size, "batch_size", 1, optional=True)
    model.check_input(x)
    steps, samples = x.shape[0], x.shape[1]
    k, m, depth, outs = model.subnetworks, model.width, model.depth, model.out_features
    if batch_size is None:
        per_sample = steps * (3 * k * m + model.in_features * len(model.delays)) * 8
        batch_size = max(1, min(samples, BATCH_BYTES // per_sample))
    binary = bool(((x == 0) | (x == 1)).all())
    fanout = synapse_fanout(model)
    input_events = 0.0  # sum over nonzero inputs of their fan-out
    spikes = torch.zeros(depth, dtype=torch.float64)
    hidden_events = torch.zeros(depth, dtype=torch.float64)  # sum over spikes of their fan-out
    for start in range(0, samples, batch_size):
        inputs, hidden = record_layers(model, x[:, start:start + batch_size])
        input_events += float((inputs != 0).sum(dim=(0, 1)).double().cpu() @ fanout["input"])  # fan-outs live on the CPU
        for layer, rec in enumerate(hidden):
            s = rec.spikes
            spikes[layer] += float(s.sum())
            if layer + 1 < depth:
                hidden_events[layer] += float(s.sum(dim=(0, 1)).flatten().double().cpu() @ fanout[f"layer{layer}"])
        last = hidden[-1].spikes
        read = (last[-1] if model.readout == "final" else last.sum(dim=0)).sum(dim=0).flatten().double().cpu()
        hidden_events[depth - 1] += float(read @ fanout["readout"])
    per = 1.0 / samples
    spikes_per = (spikes * per).tolist()
    input_ops = input_events * per
    hidden_ops = float(hidden_events[:-1].sum()) * per
    readout_ops = float(hidden_events[-1]) * per
    neuron_updates = steps * k * m * depth + (steps * outs if model.readout == "integrate" else 0)
    synaptic_ac = hidden_ops + readout_ops + (input_ops if binary else 0.0)
    synaptic_mac = 0.0 if binary else input_ops
    fan_in0 = model.in_features * len(model.delays)
    readout_steps = 1 if model.readout == "final" else steps
    dense = steps * k * m * (fan_in0 + m * (depth - 1)) + readout_steps * k * m * outs
    synaptic_pj = synaptic_ac * ENERGY_PJ["ac"] + synaptic_mac * ENERGY_PJ["mac"]
    neuron_pj = neuron_updates * ENERGY_PJ["mac"]
    total = input_ops + hidden_ops + readout_ops
    return {
        "samples": samples,
        "steps": steps,
        "binary_input": binary,
        "spikes_per_sample": {f"layer{i}": v for i, v in enumerate(spikes_per)},
        "firing_rate": {f"layer{i}": v / (steps * k * m) for i, v in enumerate(spikes_per)},
        "synops_per_sample": {"input": input_ops, "hidden": hidden_ops, "readout": readout_ops, "total": total},
        "synops_per_sample_step": total / steps,
        "ops_per_sample": {"synaptic_ac": synaptic_ac, "synaptic_mac": synaptic_mac, "neuron_mac": neuron_updates},
        "dense_macs_per_sample": dense,
        "energy_pj_per_sample": {"synaptic": synaptic_pj, "neuron": neuron_pj, "total": synaptic_pj + neuron_pj,
                                 "dense_equivalent": dense * ENERGY_PJ["mac"]},
        "energy_constants_pj": dict(ENERGY_PJ),
        "energy_source": ENERGY_SOURCE,
    }
