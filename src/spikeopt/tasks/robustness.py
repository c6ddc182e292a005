"""Robustness evaluation of a trained network: smooth vs hard spikes, and scores under corrupted inputs.

Lives beside the tasks' own evaluation, so every method can report it; SAST (``train/sast.py``)
calls it on the network it trained.
"""

from __future__ import annotations

from typing import Any, Protocol

import torch

from spikeopt.snn.network import ParallelLIFSNN, spike_mode
from spikeopt.tasks.base import SequenceData, Task
from spikeopt.tasks.corruptions import gaussian_noise


class CorruptionLevels(Protocol):
    """The corruption settings (``SASTConfig`` has them): event drop / noise / jitter, Gaussian noise."""

    drop_fraction: float
    noise_fraction: float
    jitter_us: float
    noise_std: float
    corruption_seed: int


def transfer_scores(task: Task, model: ParallelLIFSNN, data: SequenceData) -> dict[str, float]:
    """The task's headline metric with smooth and with hard spikes, and the gap ``smooth - hard``
    (positive: accuracy lost when the surrogate-forward weights are deployed with hard spikes)."""
    with spike_mode(model, "smooth"):
        smooth = next(iter(task.evaluate(model, data).values()))
    with spike_mode(model, "hard"):
        hard = next(iter(task.evaluate(model, data).values()))
    return {"smooth": smooth, "hard": hard, "gap": smooth - hard}


def corruption_scores(
    task: Task, model: ParallelLIFSNN, splits: dict[str, SequenceData], seed: int, config: CorruptionLevels
) -> dict[str, Any]:
    """Smooth and hard scores on the corrupted ``test`` split: event-level corruptions for tasks
    that can re-bin their raw events (``corrupted_split``), Gaussian input noise otherwise."""
    if "test" not in splits:
        return {"skipped": "no test split"}
    test = splits["test"]
    out: dict[str, Any] = {}
    if callable(getattr(task, "corrupted_split", None)):
        levels = {"drop": config.drop_fraction, "noise": config.noise_fraction, "jitter": config.jitter_us}
        for kind, level in levels.items():
            data = task.corrupted_split("test", seed, kind, level, config.corruption_seed)  # type: ignore[attr-defined]
            if data.y.shape != test.y.shape or not torch.equal(data.y, test.y):
                out[kind] = {"level": level, "skipped": "the corrupted split does not match the test split"}
                continue
            out[kind] = {"level": level, **transfer_scores(task, model, data)}
    else:
        noisy = gaussian_noise(test, config.noise_std, config.corruption_seed)
        assert isinstance(noisy, SequenceData)
        out["gaussian"] = {"level": config.noise_std, **transfer_scores(task, model, noisy)}
    return out


def sharpness_scores(task: Task, model: ParallelLIFSNN, data: SequenceData, rho: float,
                     max_rows: int = 512) -> dict[str, float]:
    """Paper 004's theory-alignment measurements on (up to ``max_rows`` of) ``data``, smooth spikes:

    * ``sharpness``: ``L(w + e) - L(w)`` with ``e = rho g / ||g||``, the first-order worst case in the
      ``rho``-ball that SAM ascends to (use one fixed ``rho`` to compare networks trained at any rho);
    * ``input_grad_norm``: the mean over samples of ``||d l_i / d x_i||_2``, the per-sample loss's
      gradient with respect to its whole input sequence (the paper's local mechanism links parameter
      gradient control to smaller input gradients).
    The weights are restored exactly; ``loss`` is ``L(w)``.
    """
    rows = data.subset(slice(0, min(max_rows, len(data))))
    params = [p for p in model.parameters() if p.requires_grad]
    device = params[0].device
    x, y = rows.x.to(device), rows.y.to(device)
    was_training = model.training
    model.eval()
    try:
        with spike_mode(model, "smooth"):
            loss = task.loss(model(x)[0], y)
            grads = torch.autograd.grad(loss, params)
            norm = torch.sqrt(sum((g.double() ** 2).sum() for g in grads))
            saved = [p.detach().clone() for p in params]
            with torch.no_grad():
                if norm > 0:
                    for p, g in zip(params, grads):
                        p.add_(g * (rho / norm).to(g.dtype))
                perturbed = task.loss(model(x)[0], y)
                for p, w in zip(params, saved):
                    p.copy_(w)
            xg = x.clone().requires_grad_(True)
            # the batch loss is a mean over samples: times n, its input gradient is each sample's own
            (gx,) = torch.autograd.grad(task.loss(model(xg)[0], y) * len(rows), xg)
        per_sample = gx.double().pow(2).sum(dim=tuple(d for d in range(gx.dim()) if d != 1)).sqrt()
    finally:
        model.train(was_training)
    loss = loss.detach()
    return {"rho": float(rho), "loss": float(loss), "sharpness": float(perturbed - loss),
            "input_grad_norm": float(per_sample.mean()), "rows": len(rows)}
