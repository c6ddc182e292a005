"""ADMM's closed-form updates (Eqs. (4)-(9), Algorithms 1 and 2 of Perin et al.; the reading of
the paper is written out in ``train/admm.py``): weights, membranes, spikes, multiplier, and one
iteration in the paper's order."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor

from spikeopt.train.admm_config import ADMMConfig
from spikeopt.train.admm_state import (
    Shard,
    all_reduce_,
    aux_x,
    heaviside,
    primal_residual,
)


def weight_sums(shard: Shard, layer: int, cfg: ADMMConfig, output: bool) -> tuple[Tensor, Tensor]:
    """One shard's sums of Eq. (10): ``G = sum_t A_t^T A_t`` and ``R = sum_t A_t^T x_t (+ A_T^T lam / rho)``."""
    inp = shard.inputs(layer)
    flat = inp.reshape(-1, inp.shape[-1])
    target = aux_x(shard, layer, cfg)
    gram = flat.T @ flat
    rhs = flat.T @ target.reshape(-1, target.shape[-1])
    if output:
        rhs = rhs + inp[-1].T @ shard.lam / cfg.rho
    return gram, rhs


def solve_gram(gram: Tensor, rhs: Tensor, ridge: float) -> Tensor:
    """``(G + ridge max(mean(diag G), 1) I)^{-1} R`` by Cholesky; least squares when it stays singular.

    The floor of 1 keeps the ridge meaningful when a layer (almost) never fires.
    """
    n = gram.shape[0]
    scale = float(gram.diagonal().mean()) if n else 0.0
    system = gram + (ridge * max(scale, 1.0)) * torch.eye(n, dtype=gram.dtype, device=gram.device)
    factor, info = torch.linalg.cholesky_ex(system)
    if int(info) == 0:
        return torch.cholesky_solve(rhs, factor)
    return torch.linalg.lstsq(system, rhs, driver="gelsd" if system.device.type == "cpu" else None).solution


def update_weight(shards: Sequence[Shard], layer: int, cfg: ADMMConfig, output: bool) -> Tensor:
    """Eq. (4) (hidden) or Eq. (5) (output) from the sums of Eq. (10) over shards and processes."""
    gram, rhs = weight_sums(shards[0], layer, cfg, output)
    for shard in shards[1:]:
        g, r = weight_sums(shard, layer, cfg, output)
        gram, rhs = gram + g, rhs + r
    all_reduce_(gram, rhs)
    return solve_gram(gram, rhs, cfg.ridge)


def z_minimizer(zstar: Tensor, a: Tensor, curvature: float, cfg: ADMMConfig) -> Tensor:
    """Algorithm 1: per entry, keep ``z*`` or move it across the threshold when that costs less.

    The cost of a value ``v`` is ``curvature/2 (v - z*)^2 + sigma/2 (a - H(v))^2``: the part of the
    Lagrangian that depends on this entry. Across the threshold the best values are ``theta`` (no
    spike) and ``theta + epsilon`` (spike).
    """
    half_c, half_s, theta = 0.5 * curvature, 0.5 * cfg.sigma, cfg.theta
    spike = zstar > theta
    cost_star = half_s * (a - spike.to(a.dtype)) ** 2
    cost_off = half_c * (theta - zstar) ** 2 + half_s * a**2
    cost_on = half_c * (theta + cfg.epsilon - zstar) ** 2 + half_s * (a - 1.0) ** 2
    out = torch.where(spike & (cost_off <= cost_star), torch.full_like(zstar, theta), zstar)
    return torch.where(~spike & (cost_on < cost_star), torch.full_like(zstar, theta + cfg.epsilon), out)


def hidden_z_star(shard: Shard, layer: int, t: int, weight: Tensor, cfg: ADMMConfig) -> tuple[Tensor, float]:
    """Eq. (6): the quadratic minimiser of ``z_{l,t}`` and its curvature ``rho (1 + delta^2 1(t<T))``."""
    z, a, inp = shard.z[layer], shard.a[layer], shard.inputs(layer)
    steps, d, th = z.shape[0], cfg.delta, cfg.theta
    num = inp[t] @ weight
    if t > 0:
        num = num + d * z[t - 1] - th * a[t - 1]
    den = 1.0
    if t < steps - 1:
        num = num + d * (z[t + 1] - inp[t + 1] @ weight + th * a[t])
        den += d * d
    return num / den, cfg.rho * den


def update_hidden_z(shard: Shard, layer: int, t: int, weight: Tensor, cfg: ADMMConfig) -> None:
    """Eq. (6) followed by the z minimiser of Algorithm 1, in place."""
    zstar, curvature = hidden_z_star(shard, layer, t, weight, cfg)
    shard.z[layer][t] = z_minimizer(zstar, shard.a[layer][t], curvature, cfg)


def update_output_z(shard: Shard, layer: int, t: int, weight: Tensor, cfg: ADMMConfig) -> None:
    """Eq. (7): the output membrane ``z_{L,t}`` (loss and multiplier enter at the last steps), in place."""
    z, inp, rho, d = shard.z[layer], shard.inputs(layer), cfg.rho, cfg.delta
    steps = z.shape[0]
    num = rho * (inp[t] @ weight)
    if t > 0:
        num = num + rho * d * z[t - 1]
    den = rho
    if t < steps - 1:
        num = num + rho * d * (z[t + 1] - inp[t + 1] @ weight)
        den += rho * d * d
    if t == steps - 1:
        num = num + 2.0 * shard.y - shard.lam
        den += 2.0
    if t == steps - 2:
        num = num + d * shard.lam
    z[t] = num / den


def spike_factors(next_weight: Tensor, cfg: ADMMConfig) -> tuple[Tensor, Tensor]:
    """Cholesky factors of ``rho W W^T + (sigma + rho theta^2 1(t<T)) I`` for ``t < T`` and ``t = T``."""
    n = next_weight.shape[0]
    base = cfg.rho * next_weight @ next_weight.T
    eye = torch.eye(n, dtype=base.dtype, device=base.device)
    early = torch.linalg.cholesky(base + (cfg.sigma + cfg.rho * cfg.theta**2) * eye)
    last = torch.linalg.cholesky(base + cfg.sigma * eye)
    return early, last


def spike_star(
    shard: Shard, layer: int, t: int, weight: Tensor, next_weight: Tensor, factors: tuple[Tensor, Tensor],
    cfg: ADMMConfig,
) -> Tensor:
    """Eq. (8) (or Eq. (9) when the next layer is the output): the unclipped minimiser of ``a_{l,t}``."""
    nxt = layer + 1
    steps = shard.z[layer].shape[0]
    v_next = shard.z[nxt][t] - (cfg.delta * shard.z[nxt][t - 1] if t > 0 else 0.0)
    if nxt < len(shard.a) and t > 0:
        v_next = v_next + cfg.theta * shard.a[nxt][t - 1]
    rhs = cfg.rho * v_next
    if nxt == len(shard.z) - 1 and t == steps - 1:
        rhs = rhs + shard.lam
    rhs = rhs @ next_weight.T + cfg.sigma * heaviside(shard.z[layer][t], cfg.theta)
    if t < steps - 1:
        z = shard.z[layer]
        w = z[t + 1] - cfg.delta * z[t] - shard.inputs(layer)[t + 1] @ weight
        rhs = rhs - cfg.rho * cfg.theta * w
    factor = factors[0] if t < steps - 1 else factors[1]
    return torch.cholesky_solve(rhs.T, factor).T


def update_spikes(
    shard: Shard, layer: int, t: int, weight: Tensor, next_weight: Tensor, factors: tuple[Tensor, Tensor],
    cfg: ADMMConfig,
) -> None:
    """Eq. (8)/(9) then clipping to [0, 1] (the paper's relaxation of binary spikes), in place."""
    shard.a[layer][t] = spike_star(shard, layer, t, weight, next_weight, factors, cfg).clamp_(0.0, 1.0)


def update_multiplier(shard: Shard, weight: Tensor, cfg: ADMMConfig) -> None:
    """``lambda += rho (z_{L,T} - delta z_{L,T-1} - a_{L-1,T} W_L)`` (dual ascent on the exact constraint)."""
    shard.lam += cfg.rho * primal_residual(shard, weight, cfg)


def admm_iteration(
    weights: list[Tensor], shards: Sequence[Shard], cfg: ADMMConfig, iteration: int, gen: torch.Generator
) -> None:
    """Algorithm 2 (one iteration, in place), then the multiplier update after warm-up.

    The random orders come from ``gen``, which every process seeds alike, so processes agree.
    """
    n_layers = len(weights)
    steps = shards[0].z[0].shape[0]
    layers = torch.randperm(n_layers, generator=gen).tolist() if cfg.stochastic else list(range(n_layers))
    for layer in layers:
        output = layer == n_layers - 1
        weights[layer] = update_weight(shards, layer, cfg, output)
        times = torch.randperm(steps, generator=gen).tolist() if cfg.stochastic else list(range(steps))
        if output:
            for t in times:
                for shard in shards:
                    update_output_z(shard, layer, t, weights[layer], cfg)
            continue
        factors = spike_factors(weights[layer + 1], cfg)
        for t in times:
            for shard in shards:
                update_hidden_z(shard, layer, t, weights[layer], cfg)
                update_spikes(shard, layer, t, weights[layer], weights[layer + 1], factors, cfg)
    if iteration >= cfg.warmup_iterations:
        for shard in shards:
            update_multiplier(shard, weights[-1], cfg)
