"""Memory estimates made before training, so an impossible size fails in a second with a message
that names the sizes and what to lower, instead of in the allocator minutes (or terabytes) later.

The estimates count the big tensors each trainer holds; they are lower bounds of the real peak
(allocator slack and small buffers are not counted), so a run that is refused could never fit.
"""

from __future__ import annotations

import torch

from spikeopt.resources import available_bytes

FLOAT32, FLOAT64 = 4, 8
EVAL_BATCH = 1024  # the batch size task.evaluate uses


def gib(n: int) -> str:
    return f"{n / 2**30:.1f} GiB" if n >= 2**28 else f"{n / 2**20:.0f} MiB"


def network_parameters(in_features: int, out_features: int, subnetworks: int, width: int, depth: int) -> int:
    """Number of weights and biases of a ``ParallelLIFSNN``."""
    hidden = subnetworks * (in_features * width + (depth - 1) * width * width + depth * width)
    return hidden + subnetworks * width * out_features + out_features


def gradient_training_bytes(
    steps: int, samples: int, in_features: int, out_features: int, subnetworks: int, width: int, depth: int,
    batch_size: int, copies: int = 5,
) -> int:
    """SG / SAST: ``copies`` float32 copies of the parameters (weights, gradients, two Adam moments,
    the best weights kept for selection; SAST adds the perturbation) plus the activations BPTT keeps
    for one minibatch (currents, membranes, spikes and their gradients: 6 tensors ``[T, B, K*width]``
    per layer) and those of one evaluation batch (3 tensors per layer)."""
    params = network_parameters(in_features, out_features, subnetworks, width, depth)
    neurons = subnetworks * width * depth
    batch, eval_batch = min(batch_size, samples), min(EVAL_BATCH, samples)
    activations = steps * neurons * (6 * batch + 3 * eval_batch)
    return FLOAT32 * (copies * params + activations)


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
    need = gradient_training_bytes(steps, samples, model.in_features, model.out_features,  # type: ignore[attr-defined]
                                   k, m, d, batch_size, copies)
    check_fits(need, what, f"{k} subnetworks x {m} width x {d} depth, T={steps}, batch {min(batch_size, samples)}",
               "lower --subnetworks, --width, --depth or --batch-size", device, limit)


def check_admm(steps: int, samples: int, in_features: int, out_features: int, width: int, depth: int,
               device: torch.device | str | None = None, limit: int | None = None) -> None:
    need = admm_bytes(steps, samples, in_features, out_features, width, depth)
    check_fits(need, "ADMM training", f"{samples} samples x T={steps} x width {width} x depth {depth}, float64",
               "lower --width or --depth, or use fewer training samples", device, limit)
