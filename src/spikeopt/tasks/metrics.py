"""Small metric functions shared by the tasks, plus the plumbing every ``evaluate`` needs.

Metrics take integer predictions and targets of the same shape and return a Python float, so
tasks can put them straight into their metric dicts. Sequence metrics are time-major: ``[T, N]``
(one head) or ``[T, N, H]`` (a timestep is right only when all ``H`` heads are right).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor

from spikeopt.validation import check_int


def _check_pair(pred: Tensor, target: Tensor) -> None:
    if not isinstance(pred, Tensor) or not isinstance(target, Tensor):
        raise TypeError("metrics need torch tensors for pred and target")
    if pred.shape != target.shape:
        raise ValueError(f"pred of shape {tuple(pred.shape)} and target of shape {tuple(target.shape)} differ")
    if pred.is_floating_point() or target.is_floating_point() or pred.is_complex() or target.is_complex():
        raise TypeError(f"metrics compare class labels: got {pred.dtype} and {target.dtype}, expected integer tensors")
    if pred.numel() == 0:
        raise ValueError("metrics need at least one element; got empty tensors")


def _check_sequence(pred: Tensor, target: Tensor) -> None:
    _check_pair(pred, target)
    if pred.dim() not in (2, 3):
        raise ValueError(f"sequence metrics need time-major [T, N] or [T, N, H], got shape {tuple(pred.shape)}")


def token_accuracy(pred: Tensor, target: Tensor) -> float:
    """Fraction of elements where ``pred == target`` (every head and timestep counted on its own)."""
    _check_pair(pred, target)
    return (pred == target.to(pred.device)).double().mean().item()


def joint_token_accuracy(pred: Tensor, target: Tensor) -> float:
    """Fraction of rows ``[..., :]`` where all heads (the last dimension) are right at once."""
    _check_pair(pred, target)
    if pred.dim() < 1:
        raise ValueError("joint_token_accuracy needs a head dimension [..., H]")
    return (pred == target.to(pred.device)).all(-1).double().mean().item()


def correct_steps(pred: Tensor, target: Tensor) -> Tensor:
    """Boolean ``[T, N]``: timestep ``t`` of sequence ``n`` is right (all heads right if ``[T, N, H]``)."""
    _check_sequence(pred, target)
    ok = pred == target.to(pred.device)
    return ok.all(-1) if ok.dim() == 3 else ok


def sequence_accuracy(pred: Tensor, target: Tensor) -> float:
    """Fraction of sequences right at every timestep (and every head)."""
    return correct_steps(pred, target).all(0).double().mean().item()


def first_error_steps(pred: Tensor, target: Tensor) -> Tensor:
    """Per sequence, the 0-based index of the first wrong timestep; ``T`` when it has no error."""
    wrong = ~correct_steps(pred, target)
    steps = wrong.shape[0]
    index = torch.arange(steps, device=wrong.device).unsqueeze(1).expand_as(wrong)
    return torch.where(wrong, index, torch.full_like(index, steps)).amin(0)


def first_error_step(pred: Tensor, target: Tensor) -> float:
    """Mean over sequences of the first wrong timestep (0-based; an error-free sequence counts ``T``)."""
    return first_error_steps(pred, target).double().mean().item()


# --- evaluation plumbing shared by the tasks -------------------------------------------------


def split_generator(seed: int, split: str) -> torch.Generator:
    """A generator for one split, so each split's draw depends only on ``(seed, split)``.

    Resizing one split (``n_train``) then leaves the others unchanged.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    words = np.random.SeedSequence([int(seed) % 2**64, zlib.crc32(split.encode())]).generate_state(2, np.uint32)
    return torch.Generator().manual_seed(int(words[0]) << 32 | int(words[1]))


def model_device(model: Any) -> torch.device:
    """Where the model's parameters live (CPU for a model without parameters)."""
    parameters = getattr(model, "parameters", None)
    if callable(parameters):
        for p in parameters():
            return p.device
    return torch.device("cpu")


def check_batch_size(batch_size: int) -> None:
    check_int(batch_size, "batch_size", 1)


def check_logits(out: Tensor, shape: tuple[int, ...], what: str) -> None:
    """Fail clearly when a model's output does not have the shape the task's heads need."""
    if not isinstance(out, Tensor) or tuple(out.shape) != shape:
        got = tuple(out.shape) if isinstance(out, Tensor) else type(out).__name__
        raise ValueError(f"{what} must have shape {shape} (last dimension: the heads' classes summed), got {got}")


@contextmanager
def eval_mode(model: Any) -> Iterator[None]:
    """``torch.no_grad`` and ``model.eval()`` for the block, restoring the model's train flag after."""
    was_training = bool(getattr(model, "training", False))
    if callable(getattr(model, "eval", None)):
        model.eval()
    try:
        with torch.no_grad():
            yield
    finally:
        if was_training and callable(getattr(model, "train", None)):
            model.train(True)


def forward_in_batches(model: Any, x: Tensor, out_features: int, batch_size: int, per_step: bool = True) -> Tensor:
    """``model(x)`` over batches of samples on CPU: ``[T, N, O]`` logits (``per_step``) or ``[N, O]``."""
    check_batch_size(batch_size)
    device = model_device(model)
    outs = []
    for start in range(0, x.shape[1], batch_size):
        xb = x[:, start : start + batch_size].to(device)
        out, _ = model(xb)
        shape = (xb.shape[0], xb.shape[1], out_features) if per_step else (xb.shape[1], out_features)
        check_logits(out, shape, "model(x) output")
        outs.append(out.detach().cpu())
    return torch.cat(outs, dim=1 if per_step else 0)


def final_logits(model: Any, x: Tensor, out_features: int, batch_size: int) -> Tensor:
    """The readout of ``"final"`` tasks: ``model(x)`` gives ``[N, O]``, the logits at the last step."""
    return forward_in_batches(model, x, out_features, batch_size, per_step=False)
