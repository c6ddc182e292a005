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

Files: settings ``admm_config.py``, variables ``admm_state.py``, updates ``admm_updates.py``,
tracking ``admm_tracking.py``; this module runs them (``fit_admm``, checkpoints) and is the method.
"""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

import torch
from torch import Tensor
from tqdm.auto import tqdm

from spikeopt.snn.config import ModelConfig
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.tasks.base import SequenceData, Task, check_label_values, check_labels
from spikeopt.train.admm_config import ADMMConfig
from spikeopt.train.admm_state import (
    DTYPE,
    Shard,
    all_reduce_,
    aux_x,
    dynamics_residual,
    heaviside,
    init_shard,
    init_weights,
    one_hot,
    primal_residual,
    shift,
    split_rows,
)
from spikeopt.train.admm_tracking import (
    ADMMHistory,
    check_divergence,
    correct_count,
    lagrangian_terms,
    spiking_accuracy,
    spiking_forward,
)
from spikeopt.train.admm_updates import (
    admm_iteration,
    hidden_z_star,
    solve_gram,
    spike_factors,
    spike_star,
    update_hidden_z,
    update_multiplier,
    update_output_z,
    update_spikes,
    update_weight,
    weight_sums,
    z_minimizer,
)
from spikeopt.train.base import MethodOutput, MethodSpec
from spikeopt.train.memory import check_admm
from spikeopt.train.resume import check_start, load_state, save_state
from spikeopt.validation import check_int, check_sequences


def check_data(x: Tensor, labels: Tensor, head_sizes: Sequence[int]) -> None:
    """ADMM's data boundary: finite time-major inputs, one integer label per head within its classes."""
    check_sequences(x, "x")
    if not isinstance(labels, Tensor) or labels.dim() != 2 or labels.shape != (x.shape[1], len(head_sizes)):
        raise ValueError(
            f"labels must be [N, H] = [{x.shape[1]}, {len(head_sizes)}] integers, got {getattr(labels, 'shape', labels)}"
        )
    check_label_values(labels, head_sizes)


def fit_admm(
    x: Tensor,
    labels: Tensor,
    head_sizes: Sequence[int],
    width: int,
    depth: int,
    cfg: ADMMConfig | None = None,
    seed: int = 0,
    device: torch.device | str = "cpu",
    val: tuple[Tensor, Tensor] | None = None,
) -> tuple[list[Tensor], ADMMHistory]:
    """Train ``depth`` hidden LIF layers of ``width`` neurons and the integrator output by ADMM.

    ``x [T, N, F]`` and integer ``labels [N, H]`` are this process's samples (all of them unless
    ``torch.distributed`` is initialised). Returns the float64 weights ``[n_{l-1}, n_l]`` (output
    last) and the tracked history. With ``val = (x, labels)`` (the same on every process) the spiking
    network's validation accuracy is tracked too and, if ``cfg.select``, the weights of the tracked
    iteration where it was best are returned (``history.best_iteration``; ties keep the earliest).
    """
    cfg = cfg or ADMMConfig()
    check_data(x, labels, head_sizes)
    check_int(width, "width", 1)
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
    best: dict[str, Any] = {"score": -math.inf, "weights": None}
    if val is not None:
        check_data(val[0], val[1], head_sizes)
        val_x = val[0].to(device, DTYPE)
    start = time.perf_counter()

    def track(iteration: int) -> None:
        terms = lagrangian_terms(weights, shards, cfg)
        accuracy = spiking_accuracy(weights, shards, shard_labels, head_sizes, cfg)
        history.record(iteration, terms, accuracy, time.perf_counter() - start)
        if val is not None:
            score = float(correct_count(spiking_forward(weights, val_x, cfg), val[1], head_sizes)) / val[1].shape[0]
            history.val_accuracy.append(score)
            if score > best["score"]:
                best.update(score=score, weights=[w.clone() for w in weights])
                history.best_iteration = iteration
        check_divergence(history, cfg.divergence_factor)

    path = checkpoint_path(cfg.checkpoint)
    first = 0
    if check_start(path, cfg.resume):
        first = restore_checkpoint(path, weights, shards, gen, history, device, best)
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
            save_checkpoint(path, it + 1, weights, shards, gen, history, best)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    if val is not None and cfg.select and best["weights"] is not None:
        return best["weights"], history
    return weights, history


def _progress(cfg: ADMMConfig, done: int = 0):
    if not cfg.progress:
        return None
    return tqdm(total=cfg.iterations, initial=done, desc="admm", leave=False)


def checkpoint_path(path: str | None) -> str | None:
    """``path``, with ``.rank<r>`` appended when several processes each hold their own shards."""
    dist = torch.distributed
    if path is None or not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return path
    return f"{path}.rank{dist.get_rank()}"


def save_checkpoint(
    path: str, iteration: int, weights: Sequence[Tensor], shards: Sequence[Shard], gen: torch.Generator,
    history: ADMMHistory, best: dict[str, Any] | None = None,
) -> None:
    """Everything the next iteration depends on: weights, every shard's ``z``/``a``/``lambda``, the
    random orders' generator, the history and the best-validation weights so far (the inputs and
    targets are rebuilt from the data)."""
    save_state(path, {
        "trainer": "admm", "iteration": iteration, "weights": [w.cpu() for w in weights],
        "shards": [{"rows": s.x.shape[1], "z": [v.cpu() for v in s.z], "a": [v.cpu() for v in s.a],
                    "lam": s.lam.cpu()} for s in shards],
        "generator": gen.get_state(), "history": history.as_dict(),
        "best": None if best is None or best["weights"] is None else
        {"score": best["score"], "weights": [w.cpu() for w in best["weights"]]}})


def restore_checkpoint(
    path: str, weights: list[Tensor], shards: Sequence[Shard], gen: torch.Generator, history: ADMMHistory,
    device: torch.device, best: dict[str, Any] | None = None,
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
    if best is not None and saved.get("best"):
        best.update(score=saved["best"]["score"], weights=[w.to(device, DTYPE) for w in saved["best"]["weights"]])
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


def fit_method(
    task: Task, splits: dict[str, SequenceData], seed: int, device: torch.device, *, model: ModelConfig,
    admm: ADMMConfig,
) -> MethodOutput:
    """Method ``admm``: full-batch ADMM on the train split; with a validation split (and ``admm.select``)
    the tracked iteration with the best validation accuracy is kept.

    Hidden width and depth come from ``model`` (one subnetwork); ``delta``/``theta`` from ``admm``.
    ``info["admm"]`` holds the tracked curves as lists.
    """
    if not isinstance(admm, ADMMConfig):
        raise TypeError(f"the admm section must be an ADMMConfig, got {type(admm).__name__}")
    if task.readout != "final":
        raise ValueError(
            f"admm trains a final-step readout; task {task.name!r} has readout {task.readout!r}: pick another method"
        )
    train = splits["train"]
    check_labels(train, task.heads)
    heads = [h.classes for h in task.heads]
    t0 = time.perf_counter()
    val = splits.get("val")
    weights, history = fit_admm(train.x, train.y, heads, model.width, model.depth, admm, seed=seed, device=device,
                                val=None if val is None else (val.x, val.y))
    t1 = time.perf_counter()
    net = build_network([w.cpu() for w in weights], admm, seed=seed).to(device)
    net.eval()
    info = {
        "admm": {**history.as_dict(), "config": asdict(admm), "width": model.width, "depth": model.depth},
        "timings": {"admm_s": t1 - t0},
    }
    return MethodOutput(net, info)


ADMM = MethodSpec("admm", {"model": ModelConfig, "admm": ADMMConfig}, fit_method, readouts=("final",),
                  summary="ADMM with closed-form updates (gradient-free)")


def method_admm(task: Task, splits: dict[str, SequenceData], settings: Any, seed: int,
                device: torch.device) -> MethodOutput:
    """The former entry point (kept for callers of ``spikeopt.train.admm``): ``settings`` is any
    object with a ``model`` (width, depth) and, optionally, an ``admm`` section (default
    :class:`ADMMConfig`). New code calls ``run_method("admm", ...)``."""
    admm = getattr(settings, "admm", None)
    if admm is None:
        admm = ADMMConfig()
    return fit_method(task, splits, seed, device, model=settings.model, admm=admm)


__all__ = [
    "ADMM",
    "DTYPE",
    "ADMMConfig",
    "ADMMHistory",
    "Shard",
    "admm_iteration",
    "all_reduce_",
    "aux_x",
    "build_network",
    "check_data",
    "check_divergence",
    "correct_count",
    "dynamics_residual",
    "fit_admm",
    "fit_method",
    "heaviside",
    "hidden_z_star",
    "init_shard",
    "init_weights",
    "lagrangian_terms",
    "method_admm",
    "one_hot",
    "primal_residual",
    "restore_checkpoint",
    "save_checkpoint",
    "shift",
    "solve_gram",
    "spike_factors",
    "spike_star",
    "spiking_accuracy",
    "spiking_forward",
    "split_rows",
    "update_hidden_z",
    "update_multiplier",
    "update_output_z",
    "update_spikes",
    "update_weight",
    "weight_sums",
    "z_minimizer",
]
