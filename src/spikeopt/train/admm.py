"""ADMM training of spiking networks (method ``admm``; Perin et al., "ADMM-based training for SNNs").

Gradient-free: weights ``W_l``, membranes ``z_{l,t}`` and spikes ``a_{l,t}`` are all optimisation
variables, updated in closed form by block-coordinate minimisation of the relaxed augmented
Lagrangian, plus one multiplier ``lambda`` for the exact constraint on the output membrane.

Reading of the paper chosen here (its symbols were partly lost; layers ``l = 1..L``, ``L`` is the
output layer, rows are samples so ``W_l`` is ``[n_{l-1}, n_l]`` and a current is ``a_{l-1,t} W_l``):

    model (1):  z_{l,t} = delta z_{l,t-1} + a_{l-1,t} W_l - theta a_{l,t-1},  a_{l,t} = H(z_{l,t}) = 1[z_{l,t} > theta]
                z_{L,t} = delta z_{L,t-1} + a_{L-1,t} W_L                    (no spike, no reset)
                z_{l,0} = a_{l,0} = 0, a_{0,t} = input;  exactly the LIF equation of ``snn/lif.py``
                with beta = delta, threshold = theta, reset by subtraction.
    loss (3):   l = ||z_{L,T} - Y||^2  (sum over samples and classes, Y one-hot)
    Lagrangian (2), with x_{l,t} = z_{l,t} - delta z_{l,t-1} + theta a_{l,t-1} (no theta term for l = L):
        L = l + rho/2 sum_{l,t} ||x_{l,t} - a_{l-1,t} W_l||^2 + sigma/2 sum_{l<L,t} ||a_{l,t} - H(z_{l,t})||^2
              + <x_{L,T} - a_{L-1,T} W_L, lambda>
    updates: W_l by Eq. (4)/(5) (least squares), z_{l,t} by Eq. (6) then Algorithm 1, a_{l,t} by
        Eq. (8)/(9) then clipping to [0, 1], z_{L,t} by Eq. (7); Algorithm 2 orders them, and
        ``lambda += rho (x_{L,T} - a_{L-1,T} W_L)`` after ``warmup`` iterations.

Algorithm 1 compares, per entry, the cost ``rho k/2 (v - z*)^2 + sigma/2 (a - H(v))^2`` (``k`` the
curvature of Eq. (6): ``1 + delta^2`` before the last step, else 1) at the quadratic minimiser
``z*`` and at the best point on the other side of the threshold (``theta``, or ``theta + epsilon``).

Where this deviates from or adds to the paper, and why:

- No biases (the paper has none); the returned network's biases are zero.
- Initialisation (unstated in the paper): Gaussian weights ``N(0, init_scale^2 / fan_in)``, and
  ``z``/``a`` from running the real spiking network, so every soft constraint starts satisfied.
- Gram matrices of the weight update are singular whenever an input never fires; they are solved
  by Cholesky after adding ``ridge * max(mean(diag), 1)`` to the diagonal, falling back to a least-squares
  solve. ``ridge = 0`` gives the exact minimiser of Eqs. (4)/(5).
- The weight update uses only the sums of Eq. (10), accumulated over ``shards`` of the samples and
  all-reduced across processes when ``torch.distributed`` is initialised (each process then holds
  its own samples); every other update is sample-local. Results do not depend on ``shards``.
- ``stochastic=True`` (the paper's better variant) visits the layers (the output layer included)
  and, within each layer, the timesteps in a fresh random order every iteration; the multiplier
  update stays last.
- Everything runs in float64; the returned network runs the weights in float32 with real spikes.
"""

from __future__ import annotations

import math
import time
import warnings
from dataclasses import asdict, dataclass, field
from typing import Any, Sequence

import torch
from torch import Tensor

from spikeopt.snn.lif import lif_rollout
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.tasks.base import SequenceData, Task, check_labels
from spikeopt.train.admm_config import ADMMConfig
from spikeopt.train.memory import check_admm
from spikeopt.train.resume import check_start, load_state, save_state

DTYPE = torch.float64


# --------------------------------------------------------------------------------------- variables


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


# ----------------------------------------------------------------------------------- weight update


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


def all_reduce_(*tensors: Tensor) -> None:
    """Sum tensors in place across processes when ``torch.distributed`` is initialised (else nothing)."""
    dist = torch.distributed
    if dist.is_available() and dist.is_initialized():
        for t in tensors:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)


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


# --------------------------------------------------------------------------------- membrane updates


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


# ------------------------------------------------------------------------------------ spike update


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


def primal_residual(shard: Shard, weight: Tensor, cfg: ADMMConfig) -> Tensor:
    z, inp = shard.z[-1], shard.inputs(len(shard.z) - 1)
    prev = cfg.delta * z[-2] if z.shape[0] > 1 else 0.0
    return z[-1] - prev - inp[-1] @ weight


# --------------------------------------------------------------------------------------- iteration


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


# ---------------------------------------------------------------------------------------- tracking


def lagrangian_terms(weights: Sequence[Tensor], shards: Sequence[Shard], cfg: ADMMConfig) -> dict[str, Any]:
    """Sums over shards (and processes) of every term of Eq. (2), per layer where the paper plots them."""
    n_layers = len(weights)
    loss = torch.zeros((), dtype=DTYPE)
    primal = torch.zeros((), dtype=DTYPE)
    inner = torch.zeros((), dtype=DTYPE)
    z_sq = torch.zeros(n_layers, dtype=DTYPE)
    a_sq = torch.zeros(max(n_layers - 1, 1), dtype=DTYPE)
    for shard in shards:
        loss += ((shard.z[-1][-1] - shard.y) ** 2).sum().cpu()
        res = primal_residual(shard, weights[-1], cfg)
        primal += (res**2).sum().cpu()
        inner += (res * shard.lam).sum().cpu()
        for layer in range(n_layers):
            z_sq[layer] += (dynamics_residual(shard, layer, weights[layer], cfg) ** 2).sum().cpu()
        for layer in range(n_layers - 1):
            a_sq[layer] += ((shard.a[layer] - heaviside(shard.z[layer], cfg.theta)) ** 2).sum().cpu()
    all_reduce_(loss, primal, inner, z_sq, a_sq)
    a_sq = a_sq[: n_layers - 1]
    lagrangian = loss + 0.5 * cfg.rho * z_sq.sum() + 0.5 * cfg.sigma * a_sq.sum() + inner
    return {
        "lagrangian": float(lagrangian),
        "target_loss": float(loss),
        "primal_residual": float(primal.sqrt()),
        "z_residual": [float(v) for v in z_sq.sqrt()],
        "a_residual": [float(v) for v in a_sq.sqrt()],
    }


def spiking_forward(weights: Sequence[Tensor], x: Tensor, cfg: ADMMConfig) -> Tensor:
    """The real network: LIF hidden layers (hard spikes, ``snn/lif.py``) and the leaky integrator output."""
    h = x
    for weight in weights[:-1]:
        h, _, _ = lif_rollout(h @ weight, cfg.delta, cfg.theta, "subtract")
    out = torch.zeros(h.shape[1], weights[-1].shape[1], dtype=h.dtype, device=h.device)
    for h_t in h:
        out = cfg.delta * out + h_t @ weights[-1]
    return out


def correct_count(out: Tensor, labels: Tensor, head_sizes: Sequence[int]) -> Tensor:
    """How many rows have every head's arg-max equal to its label."""
    blocks = torch.split(out, list(head_sizes), dim=-1)
    pred = torch.stack([b.argmax(-1) for b in blocks], dim=-1)
    return (pred == labels.to(pred.device)).all(-1).sum()


def spiking_accuracy(
    weights: Sequence[Tensor], shards: Sequence[Shard], labels: Sequence[Tensor], head_sizes: Sequence[int],
    cfg: ADMMConfig,
) -> float:
    """Accuracy of the real spiking network over all shards (and processes)."""
    counts = torch.zeros(2, dtype=DTYPE)
    for shard, lab in zip(shards, labels):
        counts[0] += float(correct_count(spiking_forward(weights, shard.x, cfg), lab, head_sizes))
        counts[1] += lab.shape[0]
    all_reduce_(counts)
    return float(counts[0] / counts[1])


@dataclass
class ADMMHistory:
    """Tracked curves (the paper's Figures 3 and 4) and train accuracy of the real spiking network."""

    iteration: list[int] = field(default_factory=list)
    lagrangian: list[float] = field(default_factory=list)
    target_loss: list[float] = field(default_factory=list)
    primal_residual: list[float] = field(default_factory=list)
    z_residual: list[list[float]] = field(default_factory=list)  # [record][layer], output layer last
    a_residual: list[list[float]] = field(default_factory=list)  # [record][hidden layer]
    train_accuracy: list[float] = field(default_factory=list)
    seconds: list[float] = field(default_factory=list)
    diverged: bool = False

    def record(self, iteration: int, terms: dict[str, Any], accuracy: float, seconds: float) -> None:
        self.iteration.append(iteration)
        for key in ("lagrangian", "target_loss", "primal_residual", "z_residual", "a_residual"):
            getattr(self, key).append(terms[key])
        self.train_accuracy.append(accuracy)
        self.seconds.append(seconds)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def check_divergence(history: ADMMHistory, factor: float) -> None:
    """Raise on non-finite values; warn once when a residual exceeds ``factor * max(its minimum, 1)``.

    The minimum is taken from iteration 1 on (the initialisation satisfies every constraint) and is
    floored at 1 so that growth from a numerically zero residual is not mistaken for divergence.
    """
    last = [history.lagrangian[-1], history.primal_residual[-1], *history.z_residual[-1], *history.a_residual[-1]]
    if not all(math.isfinite(v) for v in last):
        raise FloatingPointError(
            f"ADMM diverged to non-finite values at iteration {history.iteration[-1]}; "
            "raise sigma or rho, lower init_scale, or raise ridge"
        )
    if history.diverged:
        return
    series = {"primal residual": history.primal_residual}
    for layer in range(len(history.z_residual[-1])):
        series[f"z residual of layer {layer + 1}"] = [r[layer] for r in history.z_residual]
    for name, values in series.items():
        if len(values) < 3:  # the first record is the consistent initialisation (residuals ~ 0)
            return
        low = min(values[1:])
        if values[-1] > factor * max(low, 1.0):
            history.diverged = True
            warnings.warn(
                f"ADMM residuals diverge: the {name} grew from {low:.3g} to {values[-1]:.3g} by iteration "
                f"{history.iteration[-1]}; try a larger rho or sigma, more warmup, or a smaller init_scale",
                RuntimeWarning,
                stacklevel=3,
            )
            return


# ------------------------------------------------------------------------------------------ driver


def init_weights(sizes: Sequence[int], init_scale: float, gen: torch.Generator) -> list[Tensor]:
    """Gaussian ``N(0, init_scale^2 / fan_in)`` weights ``[n_{l-1}, n_l]`` in float64."""
    return [
        torch.randn(fan_in, fan_out, generator=gen, dtype=DTYPE) * (init_scale / math.sqrt(fan_in))
        for fan_in, fan_out in zip(sizes[:-1], sizes[1:])
    ]


def init_shard(x: Tensor, y: Tensor, weights: Sequence[Tensor], cfg: ADMMConfig) -> Shard:
    """Variables consistent with the real network: ``z``/``a`` from a forward run, ``lambda = 0``."""
    z, a = [], []
    h = x
    for weight in weights[:-1]:
        spikes, mem, _ = lif_rollout(h @ weight, cfg.delta, cfg.theta, "subtract", record_membrane=True)
        z.append(mem)
        a.append(spikes)
        h = spikes
    cur = h @ weights[-1]
    out = torch.zeros_like(cur)
    acc = torch.zeros_like(cur[0])
    for t in range(cur.shape[0]):
        acc = cfg.delta * acc + cur[t]
        out[t] = acc
    z.append(out)
    return Shard(x=x, y=y, z=z, a=a, lam=torch.zeros_like(y))


def split_rows(n: int, parts: int) -> list[slice]:
    """``parts`` contiguous, nearly equal, non-empty slices of ``range(n)``."""
    parts = min(parts, n)
    bounds = [round(i * n / parts) for i in range(parts + 1)]
    return [slice(bounds[i], bounds[i + 1]) for i in range(parts)]


def one_hot(labels: Tensor, head_sizes: Sequence[int]) -> Tensor:
    """Concatenated one-hot targets of every head, ``[N, sum(head_sizes)]`` float64."""
    blocks = [torch.nn.functional.one_hot(labels[:, h], c) for h, c in enumerate(head_sizes)]
    return torch.cat(blocks, dim=1).to(DTYPE)


def check_data(x: Tensor, labels: Tensor, head_sizes: Sequence[int]) -> None:
    if not isinstance(x, Tensor) or x.dim() != 3 or 0 in x.shape:
        raise ValueError(f"x must be a non-empty time-major tensor [T, N, F], got {getattr(x, 'shape', x)}")
    if not torch.isfinite(x).all():
        raise ValueError("x contains NaN or inf; clean the inputs first")
    if not isinstance(labels, Tensor) or labels.dim() != 2 or labels.shape != (x.shape[1], len(head_sizes)):
        raise ValueError(
            f"labels must be [N, H] = [{x.shape[1]}, {len(head_sizes)}] integers, got {getattr(labels, 'shape', labels)}"
        )
    for h, c in enumerate(head_sizes):
        if labels[:, h].min() < 0 or labels[:, h].max() >= c:
            raise ValueError(f"labels of head {h} must lie in [0, {c})")


def fit_admm(
    x: Tensor,
    labels: Tensor,
    head_sizes: Sequence[int],
    width: int,
    depth: int,
    cfg: ADMMConfig | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> tuple[list[Tensor], ADMMHistory]:
    """Train ``depth`` hidden LIF layers of ``width`` neurons and the integrator output by ADMM.

    ``x [T, N, F]`` and integer ``labels [N, H]`` are this process's samples (all of them unless
    ``torch.distributed`` is initialised). Returns the float64 weights ``[n_{l-1}, n_l]`` (output
    last) and the tracked history.
    """
    cfg = cfg or ADMMConfig()
    check_data(x, labels, head_sizes)
    if isinstance(width, bool) or not isinstance(width, int) or width < 1:
        raise ValueError(f"width must be a positive integer, got {width!r}")
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 1:
        raise ValueError(f"ADMM needs at least one hidden layer (depth >= 1), got {depth!r}")
    device = torch.device(device)
    check_admm(x.shape[0], x.shape[1], x.shape[2], sum(head_sizes), width, depth, device)
    gen = torch.Generator().manual_seed(seed)
    weights = [w.to(device) for w in init_weights([x.shape[2], *[width] * depth, sum(head_sizes)], cfg.init_scale, gen)]
    xd, targets = x.to(device, DTYPE), one_hot(labels, head_sizes).to(device)
    rows = split_rows(x.shape[1], cfg.shards)
    shards = [init_shard(xd[:, r], targets[r], weights, cfg) for r in rows]
    shard_labels = [labels[r] for r in rows]
    history = ADMMHistory()
    start = time.perf_counter()

    def track(iteration: int) -> None:
        terms = lagrangian_terms(weights, shards, cfg)
        accuracy = spiking_accuracy(weights, shards, shard_labels, head_sizes, cfg)
        history.record(iteration, terms, accuracy, time.perf_counter() - start)
        check_divergence(history, cfg.divergence_factor)

    path = checkpoint_path(cfg.checkpoint)
    first = 0
    if check_start(path, cfg.resume):
        first = restore_checkpoint(path, weights, shards, gen, history, device)
        start -= history.seconds[-1] if history.seconds else 0.0  # the clock continues from the saved run
    else:
        track(0)
    bar = _progress(cfg, first)
    for it in range(first, cfg.iterations):
        admm_iteration(weights, shards, cfg, it, gen)
        if (it + 1) % cfg.track_every == 0 or it + 1 == cfg.iterations:
            track(it + 1)
            if bar is not None:
                bar.set_postfix(acc=f"{history.train_accuracy[-1]:.3f}", loss=f"{history.target_loss[-1]:.3g}")
        if path is not None and ((it + 1) % cfg.checkpoint_every == 0 or it + 1 == cfg.iterations):
            save_checkpoint(path, it + 1, weights, shards, gen, history)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return weights, history


def _progress(cfg: ADMMConfig, done: int = 0):
    if not cfg.progress:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=cfg.iterations, initial=done, desc="admm", leave=False)


# ------------------------------------------------------------------------------------- checkpoints


def checkpoint_path(path: str | None) -> str | None:
    """``path``, with ``.rank<r>`` appended when several processes each hold their own shards."""
    dist = torch.distributed
    if path is None or not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return path
    return f"{path}.rank{dist.get_rank()}"


def save_checkpoint(
    path: str, iteration: int, weights: Sequence[Tensor], shards: Sequence[Shard], gen: torch.Generator,
    history: ADMMHistory,
) -> None:
    """Everything the next iteration depends on: weights, every shard's ``z``/``a``/``lambda``, the
    random orders' generator and the history (the inputs and targets are rebuilt from the data)."""
    save_state(path, {
        "trainer": "admm", "iteration": iteration, "weights": [w.cpu() for w in weights],
        "shards": [{"rows": s.x.shape[1], "z": [v.cpu() for v in s.z], "a": [v.cpu() for v in s.a],
                    "lam": s.lam.cpu()} for s in shards],
        "generator": gen.get_state(), "history": history.as_dict()})


def restore_checkpoint(
    path: str, weights: list[Tensor], shards: Sequence[Shard], gen: torch.Generator, history: ADMMHistory,
    device: torch.device,
) -> int:
    """Load the state saved at ``path`` into the fresh variables, in place; the iterations already done."""
    saved = load_state(path, "admm")
    shapes = [tuple(w.shape) for w in weights]
    if [tuple(w.shape) for w in saved["weights"]] != shapes or [s["rows"] for s in saved["shards"]] != [
        s.x.shape[1] for s in shards
    ]:
        raise ValueError(f"checkpoint {path} is from a run with other layer sizes, data or shards; "
                         "resume with the same settings or remove the file to start afresh")
    for i, w in enumerate(saved["weights"]):
        weights[i] = w.to(device, DTYPE)
    for shard, state in zip(shards, saved["shards"]):
        shard.z = [v.to(device, DTYPE) for v in state["z"]]
        shard.a = [v.to(device, DTYPE) for v in state["a"]]
        shard.lam = state["lam"].to(device, DTYPE)
    gen.set_state(saved["generator"])
    for key, value in saved["history"].items():
        setattr(history, key, value)
    return int(saved["iteration"])


def build_network(weights: Sequence[Tensor], cfg: ADMMConfig, seed: int | None = None) -> ParallelLIFSNN:
    """A one-subnetwork ``ParallelLIFSNN`` running ``weights`` with real spikes and the integrator readout."""
    in_features, width, out_features = weights[0].shape[0], weights[0].shape[1], weights[-1].shape[1]
    model = ParallelLIFSNN(
        in_features, out_features, subnetworks=1, width=width, depth=len(weights) - 1, beta=cfg.delta,
        threshold=cfg.theta, readout="integrate", readout_leak=cfg.delta, reset_mechanism="subtract", seed=seed,
    )
    with torch.no_grad():
        for param, bias, weight in zip(model.weights, model.biases, weights[:-1]):
            param.copy_(weight.unsqueeze(0))
            bias.zero_()
        model.output.weight.copy_(weights[-1].T)
        model.output.bias.zero_()
    return model


def method_admm(task: Task, splits: dict[str, SequenceData], settings: Any, seed: int, device: torch.device):
    """Method ``admm``: full-batch ADMM on the train split; config from ``settings.admm``.

    Hidden width and depth come from ``settings.model`` (one subnetwork); ``delta``/``theta`` from
    the ADMM config. ``info["admm"]`` holds the tracked curves as lists.
    """
    from spikeopt.train.pipelines import MethodOutput

    cfg = getattr(settings, "admm", None) or ADMMConfig()
    if task.readout != "final":
        raise ValueError(
            f"admm trains a final-step readout; task {task.name!r} has readout {task.readout!r}: pick another method"
        )
    train = splits["train"]
    check_labels(train, task.heads)
    heads = [h.classes for h in task.heads]
    t0 = time.perf_counter()
    weights, history = fit_admm(
        train.x, train.y, heads, settings.model.width, settings.model.depth, cfg, seed=seed, device=device
    )
    t1 = time.perf_counter()
    model = build_network([w.cpu() for w in weights], cfg, seed=seed).to(device)
    model.eval()
    info = {
        "admm": {**history.as_dict(), "config": asdict(cfg), "width": settings.model.width,
                 "depth": settings.model.depth},
        "timings": {"admm_s": t1 - t0},
    }
    return MethodOutput(model, info)
