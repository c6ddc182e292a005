"""Calibration of a network's predictions: expected calibration error and the reliability diagram.

Paper 004 names calibration as one of the controls a practical assessment of SAST needs: a flatter
minimum may change how confident the hard-spike network is, not only how often it is right. The
confidence of a prediction is the softmax probability of its arg-max class of the task's first head;
predictions are binned by confidence into equal-width bins and ECE is the row-weighted mean of
``|accuracy - mean confidence|`` over the bins (Guo et al. 2017, "On calibration of modern neural
networks").
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor

from spikeopt.tasks.base import SequenceData, Task
from spikeopt.tasks.metrics import eval_mode, forward_in_batches
from spikeopt.validation import check_int


def expected_calibration_error(probs: Tensor, labels: Tensor, bins: int = 15) -> tuple[float, list[dict[str, float]]]:
    """ECE of class probabilities ``probs [N, C]`` against integer ``labels [N]``, and the reliability
    bins (``low``, ``high``, ``count``, ``accuracy``, ``confidence``; empty bins have count 0)."""
    check_int(bins, "bins", 1)
    if probs.dim() != 2 or labels.shape != probs.shape[:1]:
        raise ValueError(f"probs must be [N, C] and labels [N]; got {tuple(probs.shape)} and {tuple(labels.shape)}")
    if probs.shape[0] == 0:
        raise ValueError("expected_calibration_error needs at least one prediction")
    confidence, predicted = probs.double().max(dim=1)
    correct = (predicted == labels).double()
    # bin b holds confidences in (b/bins, (b+1)/bins]; confidence 0 cannot occur for an arg-max probability
    index = torch.clamp(torch.ceil(confidence * bins).long() - 1, 0, bins - 1)
    table, ece, n = [], 0.0, probs.shape[0]
    for b in range(bins):
        mask = index == b
        count = int(mask.sum())
        acc = float(correct[mask].mean()) if count else 0.0
        conf = float(confidence[mask].mean()) if count else 0.0
        ece += count / n * abs(acc - conf)
        table.append({"low": b / bins, "high": (b + 1) / bins, "count": count, "accuracy": acc, "confidence": conf})
    return ece, table


def calibration_scores(task: Task, model: Any, data: SequenceData, bins: int = 15,
                       batch_size: int = 1024) -> dict[str, Any]:
    """ECE and reliability bins of ``model`` (in whatever spike mode it is in) on ``data``, first head;
    per-step tasks pool every (step, sample) prediction."""
    with eval_mode(model):
        logits = forward_in_batches(model, data.x, task.out_features, batch_size, per_step=data.per_step)
    head = task.heads[0].classes
    probs = torch.softmax(logits[..., :head].reshape(-1, head).double(), dim=-1)
    labels = data.y[..., 0].reshape(-1).cpu()
    ece, table = expected_calibration_error(probs, labels, bins)
    return {"ece": ece, "bins": table, "head": task.heads[0].name}
