"""The LIF time loop as one Triton kernel on CUDA (forward and adjoint), with the torch loop as fallback.

Why: on a GPU every step of the torch loop is three or four kernel launches of a few microseconds
each on a tensor the GPU finishes in less; at T = 1,024 the launches, not the arithmetic, set the
time. Here one program owns a block of neurons for the whole block of steps: the membrane stays in
a register, each step reads the current and writes the spike (and membrane) once.

Bit-identical spikes: the kernels do the operations of :mod:`spikeopt.snn.lif` in the same order
with fused multiply-add switched off (``enable_fp_fusion=False``), so every rounding is the torch
loop's: ``u = (u * beta + I) - theta * s``, ``s = u > theta``. The adjoint's sums may round
differently from the CPU's (the CPU ``add(alpha=...)`` may use an FMA); gradients agree to rounding.

Used when the tensors are on CUDA and Triton imports (set ``SPIKEOPT_TRITON=0`` to force the
torch loop). With ``TRITON_INTERPRET=1`` the same kernels run on CPU tensors, which is how the tests
check them on a machine without a GPU.
"""

from __future__ import annotations

import importlib.util
import os
from functools import lru_cache

import torch
from torch import Tensor

RESET_CODES = {"none": 0, "subtract": 1, "zero": 2}
NEURONS_PER_PROGRAM = 256


def interpreting() -> bool:
    return os.environ.get("TRITON_INTERPRET", "0") == "1"


@lru_cache(maxsize=1)
def triton_installed() -> bool:
    return importlib.util.find_spec("triton") is not None


def usable(t: Tensor) -> bool:
    """Whether the kernels run on ``t``: CUDA (or the Triton interpreter), Triton present, not disabled."""
    if os.environ.get("SPIKEOPT_TRITON", "1") == "0":
        return False
    if not (t.is_cuda or (interpreting() and t.device.type == "cpu")):
        return False
    return triton_installed()


def _kernels():
    """The kernel module, imported on first use (Triton takes a while to import and is optional)."""
    from spikeopt.snn import triton_kernels

    return triton_kernels


def _grid(total: int) -> tuple[int]:
    return ((total + NEURONS_PER_PROGRAM - 1) // NEURONS_PER_PROGRAM,)


def _per_neuron(value, k: int, m: int, like: Tensor) -> tuple[Tensor, int, int]:
    """A constant as a ``[K, m]`` tensor (or a 1-element one with zero strides) and its (k, j) strides."""
    if isinstance(value, Tensor):
        v = value.to(device=like.device, dtype=like.dtype).expand(k, m)
        return v, v.stride(0), v.stride(1)
    return torch.full((1,), float(value), dtype=like.dtype, device=like.device), 0, 0


def lif_forward(cur: Tensor, mems: Tensor | None, spikes: Tensor, state_mem: Tensor, state_spk: Tensor,
                beta, thr, reset: str) -> None:
    """The LIF loop over a block, in place, on 4-D views indexed ``(t, k, b, j)``; states ``(k, b, j)``.

    ``cur``, ``mems`` (None: not written) and ``spikes`` are ``[n, K, B, m]`` views (any strides);
    ``state_mem``/``state_spk`` ``[K, B, m]`` hold the state before the block and get the last step's.
    ``beta``/``thr``: floats or ``[K, m]`` tensors.
    """
    n, k, bsz, m = cur.shape
    b_t, bsk, bsj = _per_neuron(beta, k, m, cur)
    t_t, tsk, tsj = _per_neuron(thr, k, m, cur)
    total = k * bsz * m
    mem_arg = mems if mems is not None else spikes
    _kernels().lif_forward_kernel[_grid(total)](
        cur, *cur.stride(), mem_arg, *mem_arg.stride(), spikes, *spikes.stride(),
        state_mem, *state_mem.stride(), state_spk, *state_spk.stride(),
        b_t, bsk, bsj, t_t, tsk, tsj, n, bsz, m, total,
        RESET=RESET_CODES[reset], WRITE_MEM=mems is not None, BLOCK=NEURONS_PER_PROGRAM,
        **_no_fusion())


def lif_adjoint(grad: Tensor, g_spk: Tensor | None, first: int, deriv: Tensor | None, nxt: Tensor | None,
                g_last: Tensor | None, beta, thr, coupled: bool) -> None:
    """The adjoint recurrence over a block of ``[n, B, K, m]`` tensors, into ``grad`` (contiguous).

    Uncoupled (reset detached or no reset): ``grad`` must already hold ``dL/ds f'(u - theta)`` from
    step ``first`` on and zeros before; coupled: ``g_spk`` (steps ``first..n-1``) and ``deriv`` (all
    steps) are read and ``grad`` is written. ``nxt``: the gradient of the step after the block.
    """
    n = grad.shape[0]
    k, m = grad.shape[2], grad.shape[3]
    total = grad[0].numel()
    neurons = k * m
    b_t = _flat_constant(beta, k, m, grad)
    t_t = _flat_constant(thr, k, m, grad)
    g_spk, deriv, nxt, g_last = (None if v is None else v.contiguous() for v in (g_spk, deriv, nxt, g_last))
    dummy = grad
    _kernels().lif_adjoint_kernel[_grid(total)](
        grad, g_spk if g_spk is not None else dummy, deriv if deriv is not None else dummy,
        nxt if nxt is not None else dummy, g_last if g_last is not None else dummy, b_t, t_t,
        n, first, neurons, total,
        HAS_NXT=nxt is not None, HAS_LAST=g_last is not None, HAS_SPK=g_spk is not None,
        COUPLED=coupled, BLOCK=NEURONS_PER_PROGRAM, **_no_fusion())


def _flat_constant(value, k: int, m: int, like: Tensor) -> Tensor:
    """A per-neuron constant as a contiguous ``[K * m]`` tensor (a float broadcast to every neuron)."""
    if isinstance(value, Tensor):
        return value.to(device=like.device, dtype=like.dtype).expand(k, m).contiguous().reshape(-1)
    return torch.full((k * m,), float(value), dtype=like.dtype, device=like.device)


def _no_fusion() -> dict:
    """Launch options that keep every multiply and add separately rounded (the interpreter has none)."""
    return {} if interpreting() else {"enable_fp_fusion": False}
