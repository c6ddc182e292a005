"""Fast LIF rollouts: an in-place no-grad loop and a custom-autograd rollout with a hand-written backward.

Both compute exactly the recurrence of :mod:`spikeopt.snn.lif` (same floating-point operations in
the same order, so the same spikes bit for bit):

    u[t] = (beta * u[t-1] + I[t]) - theta * s[t-1]      ("subtract")
    u[t] = beta * u[t-1] + I[t]                          ("none")
    s[t] = 1[u[t] > theta]

The autograd version (:class:`LIFRollout`) stores only the membrane trace. Its backward runs the
adjoint recurrence over time by hand: with ``a[t] = dL/ds[t] * f'(u[t] - theta) + dL/du[t]``
(``f'`` the surrogate derivative, evaluated for all steps at once)

    g[t] = a[t] + beta * g[t+1]                      (detach_reset=True)
    g[t] = a[t] + (beta - theta f'(u[t]-theta)) g[t+1]   ... (detach_reset=False, see below)

and ``dL/dI[t] = g[t]``. With ``detach_reset=False`` the reset term carries gradient too:
``dL/ds[t]`` gains ``-theta * g[t+1]``, so ``g[t] = (dL/ds[t] - theta g[t+1]) f'(u[t]-theta) +
dL/du[t] + beta g[t+1]``. ``beta`` and ``threshold`` are constants here (buffers); the caller falls
back to ordinary autograd when they require gradients.
"""

from __future__ import annotations

from typing import Callable

import torch
from torch import Tensor

FUSED_RESETS = ("subtract", "none")


def rollout_nograd(currents: Tensor, beta, threshold, reset_mechanism: str, mem0: Tensor, spk0: Tensor,
                   record_membrane: bool) -> tuple[Tensor, Tensor | None, Tensor, Tensor]:
    """The LIF recurrence with in-place ops and preallocated outputs (no autograd graph).

    From the second step on the previous spike is exactly 0 or 1, so ``theta * s`` is exact and the
    reset is one fused ``addcmul`` with the same result as the separate product and subtraction.
    """
    steps = currents.shape[0]
    spikes = torch.empty_like(currents)
    mems = torch.empty_like(currents) if record_membrane else None
    bufs = (torch.empty_like(currents[0]), torch.empty_like(currents[0]))
    prev_mem, prev_spk = mem0, spk0
    for t in range(steps):
        out = mems[t] if mems is not None else bufs[t % 2]
        if reset_mechanism == "zero":
            torch.mul(beta * (1.0 - prev_spk), prev_mem, out=out)
            out.add_(currents[t])
        else:
            torch.mul(prev_mem, beta, out=out)
            out.add_(currents[t])
            if reset_mechanism == "subtract":
                if t == 0:
                    out.sub_(threshold * prev_spk)
                elif isinstance(threshold, Tensor):
                    out.addcmul_(prev_spk, threshold, value=-1.0)
                else:
                    out.add_(prev_spk, alpha=-float(threshold))
        torch.gt(out, threshold, out=spikes[t])
        prev_mem, prev_spk = out, spikes[t]
    return spikes, mems, prev_mem, prev_spk


class LIFRollout(torch.autograd.Function):
    """Spikes and membranes ``[T, ...]`` of a LIF layer; backward by the adjoint recurrence."""

    @staticmethod
    def forward(ctx, currents, mem0, spk0, beta, threshold, reset_mechanism, derivative, detach_reset):  # type: ignore[override]
        with torch.no_grad():
            spikes, mems, _, _ = rollout_nograd(currents, beta, threshold, reset_mechanism, mem0, spk0, True)
        ctx.save_for_backward(mems)
        ctx.beta, ctx.threshold, ctx.reset = beta, threshold, reset_mechanism
        ctx.derivative, ctx.detach_reset = derivative, detach_reset
        ctx.set_materialize_grads(False)
        return spikes, mems

    @staticmethod
    def backward(ctx, g_spk, g_mem):  # type: ignore[override]
        # one step at a time: every per-step tensor stays in cache (full-T passes are memory-bound)
        (mems,) = ctx.saved_tensors
        beta, thr = ctx.beta, ctx.threshold
        steps = mems.shape[0]
        coupled = ctx.reset == "subtract" and not ctx.detach_reset
        grad = torch.empty_like(mems)
        # steps whose spikes receive no gradient (e.g. all but the last for a final-step readout)
        # skip the surrogate derivative entirely
        # (checked step by step: one pass over the whole gradient up front costs more than it saves)
        nxt = None
        for t in range(steps - 1, -1, -1):
            g = grad[t]
            if g_spk is not None and not coupled and g_mem is None and nxt is not None and not bool(g_spk[t].any()):
                if isinstance(beta, Tensor):
                    torch.mul(nxt, beta, out=g)
                else:
                    torch.mul(nxt, float(beta), out=g)
                nxt = g
                continue
            if g_spk is not None:
                ds = g_spk[t] if nxt is None or not coupled else g_spk[t] - thr * nxt
            elif coupled and nxt is not None:
                ds = -thr * nxt
            else:
                ds = None
            if ds is not None:
                torch.mul(ds, ctx.derivative(mems[t] - thr), out=g)
            else:
                g.zero_()
            if g_mem is not None:
                g.add_(g_mem[t])
            if nxt is not None:
                if isinstance(beta, Tensor):
                    g.addcmul_(nxt, beta)
                else:
                    g.add_(nxt, alpha=float(beta))
            nxt = g
        g_mem0 = beta * grad[0] if ctx.needs_input_grad[1] else None
        g_spk0 = -thr * grad[0] if (ctx.needs_input_grad[2] and coupled) else None
        return grad, g_mem0, g_spk0, None, None, None, None, None


def known_derivative(spike_fn: Callable) -> Callable[[Tensor], Tensor] | None:
    """``f'`` of a :class:`~spikeopt.snn.surrogate.Surrogate`'s ``spike`` method, else ``None``."""
    from spikeopt.snn.surrogate import Surrogate

    owner = getattr(spike_fn, "__self__", None)
    if isinstance(owner, Surrogate) and getattr(spike_fn, "__func__", None) is Surrogate.spike:
        return owner.derivative
    return None
