"""The LIF equation, written once for the whole library.

    u[t] = beta * u[t-1] + I[t] - theta * s[t-1]      (reset_mechanism="subtract", the default)
    s[t] = 1[u[t] > theta]
    u[0] = s[0] = 0   (the state before the first step)

``I[t]`` is the input current (``W x[t] + b`` in a network). The reset uses the *previous* step's
spike, exactly as snnTorch's ``Leaky(beta, threshold, reset_mechanism="subtract")`` does, so with
the same currents the spike trains are identical. The other resets:

- ``"zero"``:  ``u[t] = beta * (1 - s[t-1]) * u[t-1] + I[t]`` (snnTorch's reset to zero);
- ``"none"``:  ``u[t] = beta * u[t-1] + I[t]``.

``beta`` and ``threshold`` are scalars or tensors broadcastable to one step's current (per-neuron
values). With ``detach_reset=True`` (snnTorch's default) no gradient flows through the reset term.
"""

from __future__ import annotations

from typing import Callable, NamedTuple

import torch
from torch import Tensor

from spikeopt.snn.surrogate import heaviside
from spikeopt.validation import check_bool, check_choice

RESET_MECHANISMS = ("subtract", "zero", "none")

SpikeFn = Callable[[Tensor], Tensor]


class LIFState(NamedTuple):
    """Membrane and spike of the last step taken (both zero before the first step)."""

    mem: Tensor
    spk: Tensor


def check_reset(reset_mechanism: str) -> str:
    return check_choice(reset_mechanism, "reset_mechanism", RESET_MECHANISMS)


def zero_state(like: Tensor) -> LIFState:
    return LIFState(torch.zeros_like(like), torch.zeros_like(like))


def lif_step(
    current: Tensor,
    state: LIFState,
    beta: Tensor | float,
    threshold: Tensor | float,
    reset_mechanism: str = "subtract",
    spike_fn: SpikeFn = heaviside,
    detach_reset: bool = True,
) -> LIFState:
    """One LIF step: the new membrane and spike from this step's current and the previous state."""
    prev = state.spk.detach() if detach_reset else state.spk
    if reset_mechanism == "subtract":
        mem = beta * state.mem + current - threshold * prev
    elif reset_mechanism == "zero":
        mem = beta * (1.0 - prev) * state.mem + current
    else:
        mem = beta * state.mem + current
    return LIFState(mem, spike_fn(mem - threshold))


def lif_rollout(
    currents: Tensor,
    beta: Tensor | float,
    threshold: Tensor | float,
    reset_mechanism: str = "subtract",
    spike_fn: SpikeFn = heaviside,
    detach_reset: bool = True,
    state: LIFState | None = None,
    record_membrane: bool = False,
) -> tuple[Tensor, Tensor | None, LIFState]:
    """Run ``lif_step`` over the leading (time) axis of ``currents [T, ...]``.

    Returns the spike train ``[T, ...]``, the membrane trace ``[T, ...]`` (``None`` unless
    ``record_membrane``) and the final state, which can be passed back in to continue the run.
    """
    check_reset(reset_mechanism)
    if currents.dim() < 1 or currents.shape[0] == 0:
        raise ValueError(f"currents must be time-major with at least one step, got shape {tuple(currents.shape)}")
    if state is None:
        state = zero_state(currents[0])
    fast = _fast_rollout(currents, beta, threshold, reset_mechanism, spike_fn, detach_reset, state, record_membrane)
    if fast is not None:
        return fast
    spikes, mems = [], []
    for current in currents:
        state = lif_step(current, state, beta, threshold, reset_mechanism, spike_fn, detach_reset)
        spikes.append(state.spk)
        if record_membrane:
            mems.append(state.mem)
    return torch.stack(spikes), (torch.stack(mems) if record_membrane else None), state


def leaky_integrate(currents: Tensor, leak: float, acc: Tensor | None = None) -> Tensor:
    """A non-spiking leaky integrator's membrane at every step, ``[T, ...]``: ``acc_t = leak acc_{t-1} + current_t``.

    The integrate readout (``leak = 1``: spike counts) and ADMM's output layer share this one
    equation; ``acc`` is the membrane before the first step (zeros when ``None``).
    """
    acc = torch.zeros_like(currents[0]) if acc is None else acc
    out = []
    for current in currents:
        acc = leak * acc + current
        out.append(acc)
    return torch.stack(out) if out else currents.new_zeros((0, *currents.shape[1:]))


def _as_scalar(value):
    """A tensor whose entries are all equal as a Python float (scalar ops skip broadcasting)."""
    if isinstance(value, Tensor) and value.numel() > 0 and value.dtype.is_floating_point:
        first = value.reshape(-1)[0]
        if bool((value == first).all()):
            return float(first)
    return value


def _fast_rollout(currents, beta, threshold, reset_mechanism, spike_fn, detach_reset, state, record_membrane):
    """The same rollout through :mod:`spikeopt.snn.fused` where that is exact, else ``None``.

    No gradient needed (inference, dictionaries): an in-place loop, for the hard spike or any
    library surrogate. Gradient needed: a custom autograd rollout with a hand-written backward over
    time, when the spike is a library surrogate, ``beta``/``threshold`` are constants and the reset
    is ``subtract`` or ``none``. Anything else (a user spike function, the smooth forward, a trainable
    ``beta``) takes the generic autograd loop.
    """
    from spikeopt.snn import fused

    if not all(isinstance(v, (Tensor, float, int)) for v in (beta, threshold)):
        return None
    if state.mem.shape != currents.shape[1:] or state.spk.shape != currents.shape[1:]:
        return None
    consts = [v for v in (beta, threshold) if isinstance(v, Tensor)]
    if any(v.requires_grad for v in consts):
        return None
    if any(torch.broadcast_shapes(v.shape, currents.shape[1:]) != currents.shape[1:] for v in consts):
        return None
    hard = spike_fn is heaviside
    derivative = fused.known_derivative(spike_fn)
    if not (hard or derivative is not None):
        return None
    beta, threshold = _as_scalar(beta), _as_scalar(threshold)
    needs_grad = torch.is_grad_enabled() and (
        currents.requires_grad or state.mem.requires_grad or state.spk.requires_grad
    )
    if not needs_grad:
        with torch.no_grad():
            spikes, mems, mem, spk = fused.rollout_nograd(
                currents, beta, threshold, reset_mechanism, state.mem, state.spk, record_membrane
            )
        return spikes, mems, LIFState(mem, spk)
    if hard or reset_mechanism not in fused.FUSED_RESETS:
        return None
    spikes, mems = fused.LIFRollout.apply(
        currents, state.mem, state.spk, beta, threshold, reset_mechanism, derivative, detach_reset
    )
    return spikes, (mems if record_membrane else None), LIFState(mems[-1], spikes[-1])


def as_neuron_tensor(value: Tensor | float, name: str, low: float, high: float | None = None) -> Tensor:
    """A scalar or per-neuron LIF constant as a float tensor, range-checked."""
    t = torch.as_tensor(value, dtype=torch.get_default_dtype()).detach().clone()
    if not torch.isfinite(t).all():
        raise ValueError(f"{name} must be finite")
    if (t < low).any() or (high is not None and (t > high).any()):
        bounds = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{name} must lie in {bounds}, got values from {t.min().item()} to {t.max().item()}")
    return t


class LIF(torch.nn.Module):
    """A layer of LIF neurons over time-major currents ``[T, B, H]`` (no weights of its own).

    ``forward(currents, state=None)`` returns ``(spikes, state)``; with ``record_membrane=True`` it
    returns ``(spikes, membrane, state)``. Spikes are hard in the forward pass and use the named
    surrogate in the backward pass.
    """

    def __init__(
        self,
        beta: Tensor | float,
        threshold: Tensor | float = 1.0,
        reset_mechanism: str = "subtract",
        surrogate: str = "atan",
        slope: float | None = None,
        detach_reset: bool = True,
    ) -> None:
        super().__init__()
        from spikeopt.snn.surrogate import surrogate as lookup

        self.register_buffer("beta", as_neuron_tensor(beta, "beta", 0.0, 1.0))
        self.register_buffer("threshold", as_neuron_tensor(threshold, "threshold", 0.0))
        if (self.threshold <= 0).any():
            raise ValueError("threshold must be > 0")
        self.reset_mechanism = check_reset(reset_mechanism)
        self.surrogate = lookup(surrogate, slope)
        self.detach_reset = check_bool(detach_reset, "detach_reset")

    def forward(self, currents: Tensor, state: LIFState | None = None, record_membrane: bool = False):
        if currents.dim() != 3:
            raise ValueError(f"LIF expects time-major currents [T, B, H], got shape {tuple(currents.shape)}")
        spikes, mems, state = lif_rollout(
            currents, self.beta, self.threshold, self.reset_mechanism, self.surrogate.spike,
            self.detach_reset, state, record_membrane,
        )
        return (spikes, mems, state) if record_membrane else (spikes, state)
