"""Calibrated witnesses: every neuron placed where it carries information on the training data.

Why
---
The convex readout can only use what the frozen witnesses emit. A Gaussian witness with a fixed
``beta`` and a random bias is often silent (or saturated) on the actual data: on real sequence
data 21-27% of the default witnesses never spike at the last step (up to 70% at depth 10), and a
silent atom is a wasted column. A neuron's spike is most informative when it is neither always
off nor always on, so we choose each neuron's *bias* from its own membrane on a calibration batch
of training inputs: its firing statistic then lands at a target drawn per neuron from a band.

What, per neuron (layer by layer, seeded)
------------------------------------------
- input weights ``N(0, scale^2 / fan_in)`` (a random projection, as in random-feature models);
- a time constant ``tau`` log-uniform in ``[1, T]`` and ``beta = exp(-1 / tau)``: the memories
  span one step to the whole sequence, so some neurons see local shapes and others the trend
  (one fixed ``beta = 0.9`` remembers ~10 steps whatever ``T`` is);
- a target ``q`` uniform in ``band`` (default 5%-95%): different neurons cut the same projection
  at different levels, like the quantile biases of ROCKET / MiniRocket;
- the bias found by vectorised bisection, all neurons at once (``iterations`` rollouts of the
  calibration batch), so that the firing statistic equals ``q``:

  * ``statistic="final"``: the fraction of calibration sequences that spike at the last step
    (what a ``final`` readout reads);
  * ``statistic="integrate"``: the mean over sequences of the leaky firing rate
    ``sum_t leak^(T-1-t) s_t / sum_t leak^(T-1-t)`` (what an ``integrate`` readout reads).

  The bracket is exact: with bias ``-max|W x|`` the current is never positive, the membrane never
  rises above 0 and the neuron never fires; with ``max|W x| + 2 theta`` the current exceeds
  ``theta (2 - beta)`` at every step, so it fires at every step (subtractive reset included).
  With subtractive reset the statistic is not exactly monotone in the bias, so after bisection
  the neurons whose statistic lies outside the band are *resampled* (new weights, ``tau`` and
  target) and calibrated again, up to ``rounds`` times; those still outside are kept and counted.

The first layer sees the model's synaptic delay line (``model.delays``; ``"auto"`` resolved for
the input length), exactly as the network's forward pass does, so the witnesses have the same
architecture as an SG network of the same config (an earlier version dropped the delays here).

Layer ``l > 0`` is calibrated on the spikes of the already calibrated layer ``l - 1``. The
threshold stays the model's. Every choice and the achieved statistics are returned as a dict.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import torch
from torch import Tensor

from spikeopt.convex import kernels
from spikeopt.snn.config import ModelConfig
from spikeopt.snn.lif import lif_rollout, lif_step, zero_state
from spikeopt.snn.network import ParallelLIFSNN

STATISTICS = ("final", "integrate")
_MAX_CALIBRATION_ELEMENTS = 2**25  # T * n * neurons per rollout (~128 MiB of float32)


def _check_band(band: tuple[float, float]) -> tuple[float, float]:
    try:
        low, high = (float(v) for v in band)
    except (TypeError, ValueError):
        raise ValueError(f"band must be two numbers (low, high), got {band!r}") from None
    if not 0.0 < low <= high < 1.0:
        raise ValueError(f"band must satisfy 0 < low <= high < 1 (firing fractions), got {band!r}")
    return low, high


def leak_weights(steps: int, leak: float, dtype: torch.dtype = torch.float64) -> Tensor:
    """``leak^(T-1-t)`` for ``t = 0..T-1`` divided by their sum: an integrate readout's normalised weights."""
    w = torch.tensor([leak ** (steps - 1 - t) for t in range(steps)], dtype=torch.float64)
    return (w / w.sum()).to(dtype)


def _statistic(drive: Tensor, bias: Tensor, beta: Tensor, threshold: float, statistic: str, weights: Tensor) -> Tensor:
    """Per-neuron firing statistic ``[S]`` of drive ``[T, n, S]`` plus ``bias``.

    Bisection calls this a dozen times per layer and round; it was most of a large dictionary's
    build, so it runs as one compiled loop where numba is present (8-15x faster by
    ``benchmarks/calibration.py``: one pass over the drive, the membrane of a sample's ``S`` neurons
    held in cache over its steps), with the very same float32 operations as :func:`lif_step`, so
    the same spikes and statistic.
    """
    if not kernels.HAVE_NUMBA:
        return _statistic_torch(drive, bias, beta, threshold, statistic, weights)
    args = [v.detach().to("cpu", torch.float32).contiguous().numpy() for v in (drive, bias, beta, weights)]
    per_sample = np.empty(drive.shape[1:], dtype=np.float32)
    kernels.lif_statistic(*args[:3], np.float32(threshold), args[3], statistic == "integrate", per_sample)
    return torch.from_numpy(per_sample).mean(0)  # torch's reduction, as the reference's


def _statistic_torch(drive: Tensor, bias: Tensor, beta: Tensor, threshold: float, statistic: str,
                     weights: Tensor) -> Tensor:
    """:func:`_statistic` by :func:`lif_step`, one step at a time (the fallback, and the tests' reference)."""
    state = zero_state(drive[0])
    acc = torch.zeros_like(drive[0])
    with torch.no_grad():
        for t in range(drive.shape[0]):
            state = lif_step(drive[t] + bias, state, beta, threshold)
            if statistic == "integrate":
                acc.add_(state.spk, alpha=float(weights[t]))
    return (state.spk if statistic == "final" else acc).mean(0)


def _rollout(drive: Tensor, bias: Tensor, beta: Tensor, threshold: float) -> Tensor:
    with torch.no_grad():
        spikes, _, _ = lif_rollout(drive + bias, beta, threshold)
    return spikes


def _bisect(drive: Tensor, beta: Tensor, threshold: float, target: Tensor, statistic: str, weights: Tensor,
            iterations: int) -> tuple[Tensor, Tensor]:
    """Biases ``[S]`` whose statistic is ``>= target`` (the upper end of the final bracket), and that statistic."""
    reach = drive.abs().amax(dim=(0, 1))
    lo, hi = -reach, reach + 2.0 * threshold + 1e-6
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        below = _statistic(drive, mid, beta, threshold, statistic, weights) < target
        lo = torch.where(below, mid, lo)
        hi = torch.where(below, hi, mid)
    return hi, _statistic(drive, hi, beta, threshold, statistic, weights)


def _drive(layer: int, inputs: Tensor, weight: Tensor) -> Tensor:
    """Input currents without bias ``[T, n, K*m]`` of a layer with weight ``[K, fan_in, m]``."""
    if layer == 0:
        t, n, f = inputs.shape
        return (inputs.reshape(t * n, f) @ weight.permute(1, 0, 2).reshape(f, -1)).reshape(t, n, -1)
    return torch.einsum("tnkf,kfm->tnkm", inputs, weight).flatten(-2)


def calibrated_witnesses(
    x: Tensor,
    model: ModelConfig,
    statistic: str = "final",
    band: tuple[float, float] = (0.05, 0.95),
    readout_leak: float = 1.0,
    scale: float = 1.0,
    calibration_samples: int = 256,
    iterations: int = 12,
    rounds: int = 3,
    seed: int = 0,
) -> tuple[ParallelLIFSNN, dict[str, Any]]:
    """Witnesses calibrated on training inputs ``x [T, N, F]`` (see the module docstring); and their record.

    ``model`` gives the shape (subnetworks, width, depth), the threshold and the reset. Only
    ``reset_mechanism="subtract"`` is supported (the library's and the paper's LIF).
    """
    if statistic not in STATISTICS:
        raise ValueError(f"unknown calibration statistic {statistic!r}; valid: {', '.join(STATISTICS)}")
    low, high = _check_band(band)
    if model.reset_mechanism != "subtract":
        raise ValueError(f"calibrated witnesses need reset_mechanism='subtract', got {model.reset_mechanism!r}")
    for name, value in (("calibration_samples", calibration_samples), ("iterations", iterations)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
        raise ValueError(f"rounds must be an integer >= 0, got {rounds!r}")
    if not (math.isfinite(scale) and scale > 0):
        raise ValueError(f"scale must be a finite number > 0, got {scale}")
    if not isinstance(x, Tensor) or x.dim() != 3 or not x.is_floating_point():
        raise ValueError(f"x must be a floating tensor [T, N, F] of training inputs, got {getattr(x, 'shape', x)}")
    if not torch.isfinite(x).all():
        raise ValueError("x contains NaN or inf")
    steps, samples, features = x.shape
    K, m, depth, theta = model.subnetworks, model.width, model.depth, float(model.threshold)
    gen = torch.Generator().manual_seed(seed)
    # bound the rollout memory: fewer calibration samples for long sequences and wide blocks
    n = min(samples, calibration_samples, max(16, _MAX_CALIBRATION_ELEMENTS // (steps * K * m)))
    rows = torch.randperm(samples, generator=gen)[:n]
    h: Tensor = x[:, rows].detach().to("cpu", torch.float32)
    weights_t = leak_weights(steps, readout_leak, torch.float32)
    delays = model.resolved(steps).network_settings()["delays"]
    net = ParallelLIFSNN(
        features, 1, K, m, depth, beta=0.5, threshold=theta, readout="final", reset_mechanism="subtract",
        surrogate=model.surrogate, slope=model.slope, detach_reset=model.detach_reset, seed=seed, delays=delays,
    )
    with torch.no_grad():  # the first layer sees the delay line's taps, as in the network's forward
        h = net.delayed(h)[0]
    log_t = math.log(max(steps, 1))
    layers = []
    for layer in range(depth):
        fan_in = h.shape[-1] if layer == 0 else m  # layer 0: features x delay taps
        std = scale / math.sqrt(fan_in)
        weight = torch.randn(K, fan_in, m, generator=gen) * std
        tau = torch.exp(torch.rand(K * m, generator=gen) * log_t)
        target = low + (high - low) * torch.rand(K * m, generator=gen)
        bias = torch.zeros(K * m)
        achieved = torch.zeros(K * m)
        todo = torch.arange(K * m)
        resampled = 0
        for attempt in range(rounds + 1):
            if attempt > 0:  # new weights, time constant and target for the neurons outside the band
                k_idx, j_idx = todo // m, todo % m
                weight[k_idx, :, j_idx] = torch.randn(len(todo), fan_in, generator=gen) * std
                tau[todo] = torch.exp(torch.rand(len(todo), generator=gen) * log_t)
                target[todo] = low + (high - low) * torch.rand(len(todo), generator=gen)
                resampled += len(todo)
            drive = _drive(layer, h, weight)[..., todo]
            b, stat = _bisect(drive, torch.exp(-1.0 / tau[todo]), theta, target[todo], statistic, weights_t, iterations)
            bias[todo], achieved[todo] = b, stat
            outside = (stat < low) | (stat > high)
            todo = todo[outside]
            if len(todo) == 0:
                break
        beta = torch.exp(-1.0 / tau)
        with torch.no_grad():
            net.weights[layer].copy_(weight)
            net.biases[layer].copy_(bias.reshape(K, m))
            net.beta[layer].copy_(beta.reshape(K, m))
        # the calibrated layer's spikes on the calibration batch feed the next layer
        h = _rollout(_drive(layer, h, weight), bias, beta, theta).reshape(steps, n, K, m)
        q = torch.quantile(achieved, torch.tensor([0.0, 0.5, 1.0]))
        layers.append({
            "neurons": K * m, "resampled": resampled, "outside_band": len(todo),
            "achieved_min": float(q[0]), "achieved_median": float(q[1]), "achieved_max": float(q[2]),
            "tau_min": float(tau.min()), "tau_max": float(tau.max()),
        })
    for p in net.hidden_parameters():
        p.requires_grad_(False)
    record = {
        "kind": "calibrated", "statistic": statistic, "band": [low, high], "readout_leak": readout_leak,
        "scale": scale, "calibration_samples": n, "iterations": iterations, "rounds": rounds, "seed": seed,
        "threshold": theta, "tau_range": [1.0, float(steps)], "layers": layers,
    }
    return net.eval(), record
