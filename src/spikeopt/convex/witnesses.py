"""Witnesses: the frozen hidden LIF dynamics that generate a spike dictionary.

A witness is everything below the readout of a ``ParallelLIFSNN``: every layer's input weights
and biases, ``beta`` and ``threshold``. We keep witnesses *as a network* (its readout unused), so
rolling data through them is an ordinary forward pass and reconstruction is a slice of it. The same
witness is reused at every timestep (it is the network's weight, tied over time).

Two samplers: :func:`gaussian_witnesses` (the paper's CVX: Gaussian weights and biases, fixed
``beta``) and :func:`spikeopt.convex.calibrate.calibrated_witnesses` (each neuron's bias set on
training data so that it fires informatively; the library default).
"""

from __future__ import annotations

import copy

import numpy as np
import torch

from spikeopt.snn.config import ModelConfig
from spikeopt.snn.network import ParallelLIFSNN


def _draw(shape: tuple[int, ...], low_high: tuple[float, float], gen: torch.Generator, name: str) -> torch.Tensor:
    low, high = low_high
    if not low <= high:
        raise ValueError(f"{name} range must have low <= high, got {low_high}")
    return low + (high - low) * torch.rand(shape, generator=gen)


def gaussian_witnesses(
    in_features: int,
    model: ModelConfig,
    scale: float = 1.0,
    beta_range: tuple[float, float] | None = None,
    threshold_range: tuple[float, float] | None = None,
    seed: int = 0,
) -> ParallelLIFSNN:
    """Gaussian witnesses: weights and biases ``N(0, scale^2 / fan_in)``, seeded.

    ``beta`` and ``threshold`` are the fixed structural values of ``model`` unless a range is given,
    in which case each neuron draws its own uniformly from that range.
    """
    gen = torch.Generator().manual_seed(seed)
    shape = (model.depth, model.subnetworks, model.width)
    beta = _draw(shape, beta_range, gen, "beta") if beta_range is not None else model.beta
    threshold = _draw(shape, threshold_range, gen, "threshold") if threshold_range is not None else model.threshold
    settings = {**model.network_settings(), "beta": beta, "threshold": threshold, "init_scale": scale}
    net = ParallelLIFSNN(in_features, 1, readout="final", seed=seed + 1, **settings)
    return freeze_hidden(net)


def trained_witnesses(model: ParallelLIFSNN) -> ParallelLIFSNN:
    """The hidden dynamics of a trained network (SG-CVX), copied and frozen."""
    return freeze_hidden(copy.deepcopy(model))


def freeze_hidden(net: ParallelLIFSNN) -> ParallelLIFSNN:
    for p in net.hidden_parameters():
        p.requires_grad_(False)
    return net.eval()


def concat_subnetworks(nets: list[ParallelLIFSNN], source: np.ndarray) -> tuple[ParallelLIFSNN, np.ndarray]:
    """One frozen network holding the subnetworks ``(block b, subnetwork k)`` named in ``source [p, 3]``.

    ``source`` rows are ``(b, k, j)``: neuron ``j`` of subnetwork ``k`` of ``nets[b]``. Subnetworks
    are independent, so gathering them (in order of first use) changes no spike. Returns the network
    and ``source [p, 2]`` = ``(k', j)`` into it. With no source rows, subnetwork 0 of ``nets[0]``.
    """
    if not nets:
        raise ValueError("concat_subnetworks needs at least one network")
    pairs = [(0, 0)] if len(source) == 0 else list(dict.fromkeys((int(b), int(k)) for b, k, _ in source))
    index = {pair: i for i, pair in enumerate(pairs)}
    ref = nets[0]
    with torch.no_grad():
        beta = torch.stack([nets[b].beta[:, k] for b, k in pairs], dim=1)
        threshold = torch.stack([nets[b].threshold[:, k] for b, k in pairs], dim=1)
        config = ref.config()
        config.update(subnetworks=len(pairs), out_features=1, readout="final")
        net = ParallelLIFSNN(beta=beta, threshold=threshold, **config).to(ref.weights[0].dtype)
        for layer in range(ref.depth):
            net.weights[layer].copy_(torch.stack([nets[b].weights[layer][k] for b, k in pairs]))
            net.biases[layer].copy_(torch.stack([nets[b].biases[layer][k] for b, k in pairs]))
    src = np.array([[index[(int(b), int(k))], int(j)] for b, k, j in source], dtype=np.int64).reshape(-1, 2)
    return freeze_hidden(net), src
