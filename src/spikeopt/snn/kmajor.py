"""A no-grad rollout laid out subnetwork-major, for spike dictionaries (many samples, no gradient).

Why: the hidden layers after the first are ``K`` independent small matmuls (``[rows, m] @ [m, m]``
per subnetwork). Time-major tensors ``[T, B, K, m]`` make them a strided (or copied) batched matmul
-- 2.5 to 4 times slower than the same FLOPs on contiguous operands. Here every layer's spikes are
written straight into a ``[K, steps, B, m]`` buffer, so the next layer's currents are one
contiguous ``baddbmm`` over subnetworks, and layer 0 is one GEMM over all subnetworks and steps of
a block (``[steps * B, F] @ [F, K * m]``). The LIF loop runs on ``[K, B, m]`` slices in place.

Same floating-point operations as :mod:`spikeopt.snn.lif` in the same order, so the same spikes.
"""

from __future__ import annotations

import torch
from torch import Tensor

from spikeopt.snn import blocked, triton_lif, workspace
from spikeopt.validation import check_choice

KMAJOR_RESETS = ("subtract", "zero", "none")


def _per_subnet(value):
    """A per-neuron constant ``[K, m]`` shaped to broadcast over ``[K, B, m]``; scalars unchanged."""
    return value.unsqueeze(1) if isinstance(value, Tensor) else value


def roll_kmajor(x: Tensor, weights: list[Tensor], biases: list[Tensor], betas: list, thresholds: list, reset: str,
                reduce: str, time_weights: Tensor | None = None, block: int | None = None) -> Tensor:
    """Last hidden layer's spikes of ``x [T, B, F]`` from the zero state, reduced over time.

    ``reduce``: ``"final"`` -> ``[B, K, m]`` (last step), ``"sum"`` -> ``sum_t w[t] s[t]``
    ``[B, K, m]``, ``"all"`` -> ``[T, B, K, m]``. ``betas``/``thresholds`` per layer: floats or ``[K, m]``.
    ``reset``: ``"subtract"``, ``"zero"`` or ``"none"``.
    """
    check_choice(reset, "reset", KMAJOR_RESETS)
    check_choice(reduce, "reduce", ("final", "sum", "all"))
    steps, bsz, f = x.shape
    k, m = biases[0].shape
    depth = len(weights)
    # the block sizes of the SG rollout (one knob for both): cache-sized on a CPU, launch-bound on a GPU
    block = block or max(1, (blocked.GPU_BLOCK_ELEMENTS if x.is_cuda else blocked.BLOCK_ELEMENTS) // (bsz * k * m))
    block = min(block, steps)
    fused = triton_lif.usable(x)  # the LIF loop as one kernel per block and layer on a GPU
    if not fused:
        betas = [_per_subnet(b) for b in betas]
        thresholds = [_per_subnet(t) for t in thresholds]
    with torch.no_grad():
        w0 = weights[0].permute(1, 0, 2).reshape(f, k * m)
        b0 = biases[0].reshape(-1)
        bias_k = [b.unsqueeze(1) for b in biases]
        # one currents buffer for every layer (each layer's are consumed before the next one's are
        # made): time-major [n, B, K, m] for layer 0 (straight from one GEMM), [K, n, B, m] after
        cur_buf = workspace.take((block * bsz * k * m,), x)
        spk_k = [workspace.take((k, block, bsz, m), x) for _ in range(depth)]
        mem = [workspace.take((k, bsz, m), x).zero_() for _ in range(depth)]
        prev = [workspace.take((k, bsz, m), x).zero_() for _ in range(depth)]  # spikes before step 0
        scratch = workspace.take((k, bsz, m), x) if reset == "zero" else None  # beta * (1 - s[t-1])
        out = x.new_empty((steps, bsz, k, m)) if reduce == "all" else x.new_zeros((bsz, k, m))
        for c0 in range(0, steps, block):
            n = min(block, steps - c0)
            used = cur_buf[: n * bsz * k * m]
            for layer in range(depth):
                if layer == 0:
                    cur0 = used.view(n, bsz, k, m)
                    torch.addmm(b0, x[c0 : c0 + n].reshape(n * bsz, f), w0, out=cur0.view(n * bsz, k * m))
                    cur_tkbm = cur0.permute(0, 2, 1, 3)
                else:
                    below = spk_k[layer - 1][:, :n].reshape(k, n * bsz, m)
                    cur_k = used.view(k, n, bsz, m)
                    torch.baddbmm(bias_k[layer], below, weights[layer], out=cur_k.view(k, n * bsz, m))
                    cur_tkbm = cur_k.permute(1, 0, 2, 3)
                if fused:  # ``prev[layer]`` stays its own buffer: the kernel keeps the last spikes there
                    triton_lif.lif_forward(cur_tkbm, None, spk_k[layer][:, :n].permute(1, 0, 2, 3), mem[layer],
                                           prev[layer], betas[layer], thresholds[layer], reset)
                    continue
                prev[layer] = _steps(list(cur_tkbm.unbind(0)), mem[layer], prev[layer], spk_k[layer], betas[layer],
                                     thresholds[layer], reset, scratch)
            top = spk_k[depth - 1][:, :n]  # [K, n, B, m]
            if reduce == "all":
                out[c0 : c0 + n].copy_(top.permute(1, 2, 0, 3))
            elif reduce == "sum":
                out.add_(torch.tensordot(time_weights[c0 : c0 + n], top, dims=([0], [1])).permute(1, 0, 2))
            elif c0 + n == steps:
                out.copy_(top[:, -1].permute(1, 0, 2))
        workspace.give(cur_buf, *spk_k, *mem, scratch)
    return out


def _steps(currents: list[Tensor], mem: Tensor, prev: Tensor, spikes: Tensor, beta, thr, reset: str,
           scratch: Tensor | None = None) -> Tensor:
    """The LIF recurrence over one block in place: ``spikes[:, t]`` gets every step's spikes.

    ``prev`` holds the spikes of the step before the block (a slice of the previous block's buffer:
    it is read at the first step before that step's spikes are written); returns the last step's.
    """
    for t, cur in enumerate(currents):
        if reset == "zero":  # (beta * (1 - s)) * u + I, as lif_step: 1 - s and beta * (1 - s) are exact
            torch.mul(prev, -1.0, out=scratch)
            scratch.add_(1.0)
            scratch.mul_(beta)
            mem.mul_(scratch)
        else:
            mem.mul_(beta)
        mem.add_(cur)
        if reset == "subtract":
            if isinstance(thr, Tensor):
                mem.addcmul_(prev, thr, value=-1.0)
            else:
                mem.add_(prev, alpha=-float(thr))
        prev = spikes[:, t]
        torch.gt(mem, thr, out=prev)
    return prev
