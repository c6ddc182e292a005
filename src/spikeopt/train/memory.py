"""Memory estimates made before training, so an impossible size fails in a second with a message
that names the sizes and what to lower, instead of in the allocator minutes (or terabytes) later.

The estimates count the big tensors each trainer holds; they are lower bounds of the real peak
(allocator slack and small buffers are not counted), so a run that is refused could never fit.
SG and SAST are counted for the blocked, checkpointed rollout they really take (memory flat or
~sqrt(T) in the steps), not for all steps at once (which refused T = 4,096 at ~30 GiB).
"""

from __future__ import annotations

import torch

from spikeopt.resources import available_bytes
from spikeopt.validation import check_choice

FLOAT32, FLOAT64 = 4, 8
EVAL_BATCH = 1024  # the batch size task.evaluate uses
READOUT_REDUCE = {"final": "final", "integrate": "sum", "per_step": "all"}  # readout -> blocked reduce


def gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**28 else f"{n / 2**20:.0f} MiB"


def network_parameters(in_features: int, out_features: int, subnetworks: int, width: int, depth: int) -> int:
    """Number of weights and biases of a ``ParallelLIFSNN``."""
    hidden = subnetworks * (in_features * width + (depth - 1) * width * width + depth * width)
    return hidden + subnetworks * width * out_features + out_features


def gradient_training_bytes(
    steps: int, samples: int, in_features: int, out_features: int, subnetworks: int, width: int, depth: int,
    batch_size: int, copies: int = 5, *, rollout: str = "blocked", readout: str = "final", gpu: bool = False,
) -> int:
    """SG / SAST: ``copies`` float32 copies of the parameters (weights, gradients, two Adam moments,
    the best weights kept for selection; SAST adds the perturbation) plus what the rollouts hold at
    their peak for one minibatch (forward and backward) and one evaluation batch (forward).

    ``rollout="blocked"`` (default): the blocked, checkpointed rollout ``ParallelLIFSNN.forward``
    takes from the zero state (:func:`spikeopt.snn.blocked.rollout_bytes`, ``checkpoint_time="auto"``),
    flat or ~sqrt(T) in ``steps``. ``readout`` (``"final"``, ``"integrate"``, ``"per_step"``) sizes
    its reduced output; ``"final"`` is the smallest, so callers that do not know it get a lower bound.
    ``gpu``: the rollout's blocks are sized for a GPU (larger: :data:`spikeopt.snn.blocked.GPU_BLOCK_ELEMENTS`).
    ``rollout="full"``: the all-steps-at-once rollout (smooth spikes, zero reset, a given state):
    6 tensors ``[T, B, K*width]`` per layer for BPTT and 3 for evaluation.
    """
    check_choice(rollout, "rollout", ("blocked", "full"))
    check_choice(readout, "readout", READOUT_REDUCE)
    params = network_parameters(in_features, out_features, subnetworks, width, depth)
    batch, eval_batch = min(batch_size, samples), min(EVAL_BATCH, samples)
    if rollout == "full":
        activations = steps * subnetworks * width * depth * (6 * batch + 3 * eval_batch)
        return FLOAT32 * (copies * params + activations)
    from spikeopt.snn import blocked

    neurons, reduce = subnetworks * width, READOUT_REDUCE[readout]
    train = blocked.rollout_bytes(steps, batch, in_features, neurons, depth, reduce, True, FLOAT32, gpu=gpu)
    evaluate = blocked.rollout_bytes(steps, eval_batch, in_features, neurons, depth, reduce, False, FLOAT32, gpu=gpu)
    return FLOAT32 * copies * params + train + evaluate


def admm_bytes(steps: int, samples: int, in_features: int, out_features: int, width: int, depth: int) -> int:
    """ADMM keeps every sample's variables in float64: the inputs, membranes ``z`` and spikes ``a`` of
    every hidden layer (each with a working copy), the output membranes and multipliers, and the
    Gram matrices of the weight update."""
    per_sample = steps * (in_features + 4 * width * depth + 2 * out_features)
    grams = depth * (width + in_features) ** 2 * 2
    return FLOAT64 * (samples * per_sample + grams)


def check_fits(need: int, what: str, sizes: str, advice: str, device: torch.device | str | None = None,
               limit: int | None = None) -> None:
    """Raise ``MemoryError`` when ``need`` bytes exceed the free memory (or ``limit``)."""
    have = available_bytes(device) if limit is None else limit
    if need > have:
        raise MemoryError(f"{what} needs about {gib(need)} ({sizes}) but only {gib(have)} is free; {advice}")


def check_gradient_training(
    model: torch.nn.Module, steps: int, samples: int, batch_size: int, what: str = "SG training",
    copies: int = 5, device: torch.device | str | None = None, limit: int | None = None,
) -> None:
    """The check ``train_sg`` and ``train_sast`` run first, from the model's own sizes."""
    k, m, d = model.subnetworks, model.width, model.depth  # type: ignore[attr-defined]
    if getattr(model, "uses_blocked_rollout", lambda: False)():
        # the model's own plan (its readout, block size, checkpointing, delays, dtype)
        params = network_parameters(model.in_features, model.out_features, k, m, d)  # type: ignore[attr-defined]
        batch, eval_batch = min(batch_size, samples), min(EVAL_BATCH, samples)
        need = (FLOAT32 * copies * params + model.rollout_bytes(steps, batch, True)  # type: ignore[operator]
                + model.rollout_bytes(steps, eval_batch, False))  # type: ignore[operator]
    else:
        need = gradient_training_bytes(steps, samples, model.in_features, model.out_features,  # type: ignore[attr-defined]
                                       k, m, d, batch_size, copies, rollout="full")
    check_fits(need, what, f"{k} subnetworks x {m} width x {d} depth, T={steps}, batch {min(batch_size, samples)}",
               "lower --subnetworks, --width, --depth or --batch-size", device, limit)


def check_admm(steps: int, samples: int, in_features: int, out_features: int, width: int, depth: int,
               device: torch.device | str | None = None, limit: int | None = None) -> None:
    need = admm_bytes(steps, samples, in_features, out_features, width, depth)
    check_fits(need, "ADMM training", f"{samples} samples x T={steps} x width {width} x depth {depth}, float64",
               "lower --width or --depth, or use fewer training samples", device, limit)
