"""ADMM's variables (method ``admm``, see ``train/admm.py``): the sample-local shard of weights'
inputs, membranes ``z``, spikes ``a`` and multiplier ``lambda``, their consistent initialisation, and
the sums across processes."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Sequence

import torch
from torch import Tensor

from spikeopt.snn.lif import leaky_integrate, lif_rollout
from spikeopt.tasks.base import one_hot_heads
from spikeopt.train.admm_config import ADMMConfig

DTYPE = torch.float64


@dataclass
class Shard:
    """The sample-local variables of one shard of the data (rows are samples).

    ``x [T, M, F]`` inputs, ``y [M, C]`` targets, ``z[l] [T, M, n_l]`` membranes of every layer,
    ``a[l] [T, M, n_l]`` spikes of every hidden layer, ``lam [M, C]`` the multiplier.
    """

    x: Tensor
    y: Tensor
    z: list[Tensor]
    a: list[Tensor]
    lam: Tensor

    def inputs(self, layer: int) -> Tensor:
        """``a_{layer-1}``: the spikes (or data) feeding ``layer`` (0-based; the output is the last)."""
        return self.x if layer == 0 else self.a[layer - 1]


def shift(v: Tensor) -> Tensor:
    """``v[t-1]`` along time with zero before the first step."""
    return torch.cat([torch.zeros_like(v[:1]), v[:-1]])


def heaviside(z: Tensor, theta: float) -> Tensor:
    return (z > theta).to(z.dtype)


def aux_x(shard: Shard, layer: int, cfg: ADMMConfig) -> Tensor:
    """The paper's ``x_l``: ``z_t - delta z_{t-1} (+ theta a_{t-1} for hidden layers)``, ``[T, M, n_l]``."""
    z = shard.z[layer]
    x = z - cfg.delta * shift(z)
    if layer < len(shard.a):
        x = x + cfg.theta * shift(shard.a[layer])
    return x


def dynamics_residual(shard: Shard, layer: int, weight: Tensor, cfg: ADMMConfig) -> Tensor:
    """Residual of the soft dynamics constraint of ``layer`` at every step, ``[T, M, n_l]``."""
    return aux_x(shard, layer, cfg) - shard.inputs(layer) @ weight


def all_reduce_(*tensors: Tensor) -> None:
    """Sum tensors in place across processes when ``torch.distributed`` is initialised (else nothing)."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        for t in tensors:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)


def primal_residual(shard: Shard, weight: Tensor, cfg: ADMMConfig) -> Tensor:
    z, inp = shard.z[-1], shard.inputs(len(shard.z) - 1)
    prev = cfg.delta * z[-2] if z.shape[0] > 1 else 0.0
    return z[-1] - prev - inp[-1] @ weight


def init_weights(sizes: Sequence[int], init_scale: float, gen: torch.Generator) -> list[Tensor]:
    """Gaussian ``N(0, init_scale^2 / fan_in)`` weights ``[n_{l-1}, n_l]`` in float64."""
    return [
        torch.randn(fan_in, fan_out, generator=gen, dtype=DTYPE) * (init_scale / math.sqrt(fan_in))
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:])
    ]


def spiking_rollout(weights: Sequence[Tensor], x: Tensor, cfg: ADMMConfig,
                    record: bool = True) -> tuple[list[Tensor], list[Tensor], Tensor]:
    """The real network on ``x``: hidden membranes (when ``record``) and spikes of every layer (LIF,
    hard spikes, reset by subtraction, ``snn/lif.py``), and the leaky-integrator output membrane."""
    z, a = [], []
    h = x
    for weight in weights[:-1]:
        h, mem, _ = lif_rollout(h @ weight, cfg.delta, cfg.theta, "subtract", record_membrane=record)
        if record:
            z.append(mem)
        a.append(h)
    return z, a, leaky_integrate(h @ weights[-1], cfg.delta)


def init_shard(x: Tensor, y: Tensor, weights: Sequence[Tensor], cfg: ADMMConfig) -> Shard:
    """Variables consistent with the real network: ``z``/``a`` from a forward run, ``lambda = 0``."""
    z, a, out = spiking_rollout(weights, x, cfg)
    z.append(out)
    return Shard(x=x, y=y, z=z, a=a, lam=torch.zeros_like(y))


def split_rows(n: int, parts: int) -> list[slice]:
    """``parts`` contiguous, nearly equal, non-empty slices of ``range(n)``."""
    parts = min(parts, n)
    bounds = [round(i * n / parts) for i in range(parts + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(parts)]


one_hot = one_hot_heads  # ADMM's targets Y: concatenated one-hot of every head, float64
