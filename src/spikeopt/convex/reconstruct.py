"""Rebuild a runnable ParallelLIFSNN from a convex solution (the paper's Section 3.4 / E.3).

Every active atom carries its witness ``(k, j)``: last-layer neuron ``j`` of witness subnetwork
``k``. The rebuilt network holds one subnetwork per witness subnetwork that any active atom comes
from (``merge=True``; atoms of the same subnetwork share it, which changes no spike) or one per
active atom (``merge=False``, the paper's literal construction). Its readout weights are the solved
coefficients on the atoms' neurons and zero elsewhere, so on the training inputs its output equals
``D @ coef + intercept``.

For the ``"integrate"`` layout (atom = ``sum_t leak^(T-1-t) s_t / S`` with ``S = sum_t
leak^(T-1-t)``) the rebuilt network has ``readout="integrate"`` with the same leak; its output
``sum_t leak^(T-1-t) (W s_t + b)`` adds the bias at every step, so ``W = coef / S`` and
``b = intercept / S`` make it equal ``D @ coef + intercept``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from spikeopt.convex.calibrate import leak_weights
from spikeopt.convex.dictionary import SpikeDictionary
from spikeopt.snn.network import ParallelLIFSNN


@dataclass(frozen=True)
class ReconstructionReport:
    active_atoms: int
    subnetworks: int
    caratheodory_bound: int

    def as_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def reconstruct(
    witnesses: ParallelLIFSNN,
    dictionary: SpikeDictionary,
    coef: np.ndarray,
    intercept: np.ndarray | None,
    readout: str,
    merge: bool = True,
    pack: bool = True,
) -> tuple[ParallelLIFSNN, ReconstructionReport]:
    """A network computing the convex predictor, and how many subnetworks it needed.

    The Caratheodory bound is ``rows * outputs + 1``: the paper's bound on the number of atoms an
    optimal solution needs (``n + 1`` for a scalar output).
    """
    expected = {"final": "final", "trajectory": "per_step", "integrate": "integrate"}[dictionary.layout]
    if readout != expected:
        raise ValueError(f"a {dictionary.layout!r} dictionary rebuilds a readout={expected!r} network, got readout={readout!r}")
    coef = np.asarray(coef, dtype=np.float64)
    if coef.ndim == 1:
        coef = coef[:, None]
    if coef.shape[0] != dictionary.n_atoms:
        raise ValueError(f"coef has {coef.shape[0]} rows but the dictionary has {dictionary.n_atoms} atoms")
    outputs = coef.shape[1]
    intercept = np.zeros(outputs) if intercept is None else np.asarray(intercept, dtype=np.float64).reshape(outputs)
    active = np.flatnonzero(np.abs(coef).sum(axis=1) > 0)
    src = dictionary.source[active]
    config = witnesses.config()
    config.update(out_features=outputs, readout=readout)
    scale = 1.0
    if readout == "integrate":  # undo the atoms' normalisation: S = 1 / (unnormalised weight of the last step)
        config.update(readout_leak=dictionary.leak)
        scale = float(leak_weights(dictionary.steps, dictionary.leak)[-1])
    if pack and witnesses.depth == 1:
        net, subnetworks = _packed(witnesses, src, config)
        slot, column = np.arange(len(active)) // witnesses.width, np.arange(len(active)) % witnesses.width
    else:
        net, subnetworks, slot = _whole_subnetworks(witnesses, src, config, merge)
        column = src[:, 1]
    with torch.no_grad():
        weight = torch.zeros(outputs, net.subnetworks, witnesses.width, dtype=torch.float64)
        weight[:, torch.as_tensor(slot), torch.as_tensor(column)] = torch.as_tensor(coef[active]).T
        net.output.weight.copy_(weight.reshape(outputs, -1) * scale)
        net.output.bias.copy_(torch.as_tensor(intercept) * scale)
    report = ReconstructionReport(
        active_atoms=len(active),
        subnetworks=subnetworks,
        caratheodory_bound=dictionary.atoms.shape[0] * outputs + 1,
    )
    return net.eval(), report


def _whole_subnetworks(witnesses: ParallelLIFSNN, src: np.ndarray, config: dict, merge: bool,
                       ) -> tuple[ParallelLIFSNN, int, np.ndarray]:
    """The witness subnetworks the active atoms come from, whole; and each atom's subnetwork slot."""
    if merge:
        subnets, slot = np.unique(src[:, 0], return_inverse=True)
    else:
        subnets, slot = src[:, 0], np.arange(len(src))
    used = len(subnets)
    if used == 0:  # everything regularised away: one silent-readout subnetwork
        subnets, slot = np.array([0]), np.array([], dtype=np.int64)
    idx = torch.as_tensor(subnets, dtype=torch.long)
    net = ParallelLIFSNN(
        beta=witnesses.beta[:, idx], threshold=witnesses.threshold[:, idx], **{**config, "subnetworks": len(subnets)}
    ).to(dtype=witnesses.weights[0].dtype)
    with torch.no_grad():
        for new_w, new_b, old_w, old_b in zip(net.weights, net.biases, witnesses.weights, witnesses.biases):
            new_w.copy_(old_w[idx])
            new_b.copy_(old_b[idx])
    return net, used, slot


def _packed(witnesses: ParallelLIFSNN, src: np.ndarray, config: dict) -> tuple[ParallelLIFSNN, int]:
    """One hidden layer: the active atoms' neurons only, in order, ``width`` to a subnetwork.

    Padding neurons get zero weights and bias: their membrane stays at 0 below the threshold (> 0),
    so they never spike and cost no SynOps.
    """
    width, n = witnesses.width, len(src)
    subnetworks = max(1, -(-n // width))
    k, j = torch.as_tensor(src[:, 0], dtype=torch.long), torch.as_tensor(src[:, 1], dtype=torch.long)
    beta = torch.full((1, subnetworks * width), 0.5, dtype=witnesses.beta.dtype)
    threshold = torch.ones(1, subnetworks * width, dtype=witnesses.threshold.dtype)
    beta[0, :n], threshold[0, :n] = witnesses.beta[0, k, j], witnesses.threshold[0, k, j]
    shape = (1, subnetworks, width)
    net = ParallelLIFSNN(
        beta=beta.reshape(shape), threshold=threshold.reshape(shape), **{**config, "subnetworks": subnetworks}
    ).to(dtype=witnesses.weights[0].dtype)
    old_w, old_b = witnesses.weights[0], witnesses.biases[0]
    with torch.no_grad():
        weight = torch.zeros(subnetworks * width, old_w.shape[1], dtype=old_w.dtype)
        bias = torch.zeros(subnetworks * width, dtype=old_b.dtype)
        weight[:n], bias[:n] = old_w[k, :, j], old_b[k, j]
        net.weights[0].copy_(weight.reshape(subnetworks, width, -1).transpose(1, 2))
        net.biases[0].copy_(bias.reshape(subnetworks, width))
    return net, subnetworks if n else 0
