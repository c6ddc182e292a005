"""ParallelLIFSNN: K parallel LIF subnetworks sharing one input, feeding one linear readout.

Subnetwork ``k`` has ``depth`` LIF layers of ``width`` neurons. Layer ``l`` of every subnetwork is
one weight tensor ``[K, fan_in, width]``, so all subnetworks run in one batched matmul per layer
(no Python loop over subnetworks). Each layer's input currents are computed for all timesteps at
once, then the LIF recurrence (``snn/lif.py``) runs over time. The readout sees the last hidden
layer's spikes of all subnetworks, flattened to ``K * width`` features.

This is the paper's parallel LIF-SNN: the convex method freezes the hidden layers ("witnesses"),
reads the last hidden layer's spikes as a dictionary and solves for the readout.

Synaptic delays (``delays``): the first layer may see the input at several fixed delays, ``I[t] =
sum_d W_d x[t - d] + b`` (``x[t < 0] = 0``), a parameter-free delay line in front of the first
weights, as neuromorphic chips provide (per-synapse delays). Why: a LIF neuron is a first-order
low-pass filter of its input current; with one input channel (a univariate series) every neuron of
the first layer sees the same signal, low-passed, and cannot respond to its slope or shape. Delays
make each neuron's current a random (or trained) FIR combination of past inputs -- band-pass and
derivative-like responses -- which is what random-convolution classifiers (ROCKET) get their
accuracy from. ``delays=(0,)`` (the default) is the plain network.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import torch
from torch import Tensor, nn

from spikeopt.snn import blocked, kmajor
from spikeopt.snn.fused import FUSED_RESETS
from spikeopt.snn.lif import LIFState, _as_scalar, as_neuron_tensor, check_reset, leaky_integrate, lif_rollout
from spikeopt.snn.surrogate import surrogate as lookup_surrogate
from spikeopt.validation import check_bool, check_choice, check_int, check_number

READOUTS = ("final", "per_step", "integrate")
SPIKE_MODES = ("hard", "smooth")

NetworkState = tuple[Any, ...]  # LIF states of every layer, then the integrator's membrane, then the delay line


def octave_delays(steps: int) -> tuple[int, ...]:
    """``(0, 1, 2, 4, ..., 2^k)`` with ``2^k <= steps // 2``: delays spread evenly over time scales.

    One delay per octave covers every time scale of a ``steps``-long input with few taps
    (``2 + log2(steps/2)``), so the first layer's fan-in grows only logarithmically with ``T``.
    """
    steps = check_int(steps, "steps", 1)
    out, d = [0], 1
    while d <= steps // 2:
        out.append(d)
        d *= 2
    return tuple(out)


def check_delays(delays: Any) -> tuple[int, ...]:
    """Validated delays: distinct integers ``>= 0``, sorted, at least one."""
    try:
        values = [int(d) for d in delays]
    except (TypeError, ValueError):
        raise TypeError(f"delays must be a sequence of integers >= 0, got {delays!r}") from None
    if not values or any(isinstance(d, bool) or d < 0 or int(d) != d for d in delays) or len(set(values)) != len(values):
        raise ValueError(f"delays must be distinct integers >= 0, at least one, got {delays!r}")
    return tuple(sorted(values))


class ParallelLIFSNN(nn.Module):
    """``K`` parallel LIF subnetworks of ``depth`` x ``width`` neurons and a linear readout.

    ``forward(x [T, B, in_features], state=None) -> (out, state)``: ``out`` is ``[B, out_features]``
    for ``readout="final"`` (the readout at the last step) and ``[T, B, out_features]`` for
    ``readout="per_step"``. ``readout="integrate"`` is a non-spiking leaky integrator (ADMM's output
    layer): ``out = sum_t readout_leak^(T-1-t) (W h[t] + b)`` at the last step, ``[B, out_features]``;
    its membrane is carried in the state (after the LIF states, before the delay line's history) so
    ``step`` by ``step`` equals ``forward``. ``delays`` adds a delay line in front of the first layer.
    ``beta`` and ``threshold`` are scalars or per-neuron tensors of shape
    ``[depth, K, width]`` (or broadcastable to it); they are buffers, not trained.
    ``spike_mode="smooth"`` replaces the spike by the surrogate's smooth step in the forward pass.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        subnetworks: int,
        width: int,
        depth: int = 1,
        beta: Tensor | float = 0.9,
        threshold: Tensor | float = 1.0,
        readout: str = "final",
        readout_leak: float = 1.0,
        reset_mechanism: str = "subtract",
        surrogate: str = "atan",
        slope: float | None = None,
        detach_reset: bool = True,
        init_scale: float = 1.0,
        seed: int | None = None,
        delays: Any = (0,),
    ) -> None:
        super().__init__()
        self.in_features = int(check_int(in_features, "in_features", 1))
        self.out_features = int(check_int(out_features, "out_features", 1))
        self.subnetworks = int(check_int(subnetworks, "subnetworks", 1))
        self.width = int(check_int(width, "width", 1))
        self.depth = int(check_int(depth, "depth", 1))
        self.readout = check_choice(readout, "readout", READOUTS)
        self.readout_leak = float(check_number(readout_leak, "readout_leak (the integrator's decay)", 0.0, 1.0))
        self.delays = check_delays(delays)
        self.max_delay = self.delays[-1]
        self.reset_mechanism = check_reset(reset_mechanism)
        self.surrogate = lookup_surrogate(surrogate, slope)
        self.detach_reset = check_bool(detach_reset, "detach_reset")
        self.spike_mode = "hard"
        # how ``forward`` rolls time (runtime settings, not architecture): steps per block (None: sized
        # to the cache) and gradient checkpointing over time (True, False or "auto": on when the
        # membranes kept for the backward pass would exceed ``blocked.CHECKPOINT_BYTES``)
        self.block_steps: int | None = None
        self.checkpoint_time: bool | str = "auto"
        shape = (self.depth, self.subnetworks, self.width)
        try:
            beta_t = as_neuron_tensor(beta, "beta", 0.0, 1.0).expand(shape).clone()
            thr_t = as_neuron_tensor(threshold, "threshold", 0.0).expand(shape).clone()
        except RuntimeError as err:
            raise ValueError(f"beta and threshold must be scalars or broadcastable to {shape}: {err}") from None
        if (thr_t <= 0).any():
            raise ValueError("threshold must be > 0")
        self.register_buffer("beta", beta_t)
        self.register_buffer("threshold", thr_t)
        fan_ins = [self.in_features * len(self.delays)] + [self.width] * (self.depth - 1)
        self.weights = nn.ParameterList(
            [nn.Parameter(torch.empty(self.subnetworks, f, self.width)) for f in fan_ins]
        )
        self.biases = nn.ParameterList(
            [nn.Parameter(torch.empty(self.subnetworks, self.width)) for _ in fan_ins]
        )
        self.output = nn.Linear(self.subnetworks * self.width, self.out_features)
        self.reset_parameters(init_scale, seed)

    # ----------------------------------------------------------------- set-up
    def reset_parameters(self, init_scale: float = 1.0, seed: int | None = None) -> None:
        """Gaussian hidden weights and biases ``N(0, init_scale^2 / fan_in)``; readout like ``nn.Linear``."""
        check_number(init_scale, "init_scale", 0.0, open_low=True)
        gen = torch.Generator().manual_seed(seed) if seed is not None else None
        with torch.no_grad():
            for w, b in zip(self.weights, self.biases):
                std = init_scale / math.sqrt(w.shape[1])
                w.copy_(torch.randn(w.shape, generator=gen) * std)
                b.copy_(torch.randn(b.shape, generator=gen) * std)
            bound = 1.0 / math.sqrt(self.output.in_features)
            self.output.weight.copy_((torch.rand(self.output.weight.shape, generator=gen) * 2 - 1) * bound)
            self.output.bias.copy_((torch.rand(self.output.bias.shape, generator=gen) * 2 - 1) * bound)

    def config(self) -> dict[str, Any]:
        """Constructor arguments (beta/threshold are restored from the saved buffers)."""
        return {
            "in_features": self.in_features,
            "out_features": self.out_features,
            "subnetworks": self.subnetworks,
            "width": self.width,
            "depth": self.depth,
            "readout": self.readout,
            "readout_leak": self.readout_leak,
            "reset_mechanism": self.reset_mechanism,
            "surrogate": self.surrogate.name,
            "slope": self.surrogate.slope,
            "detach_reset": self.detach_reset,
            "delays": list(self.delays),
        }

    def hidden_parameters(self) -> list[nn.Parameter]:
        return [*self.weights, *self.biases]

    # ---------------------------------------------------------------- running
    def _spike_fn(self):
        return self.surrogate.smooth if self.spike_mode == "smooth" else self.surrogate.spike

    def check_input(self, x: Tensor) -> None:
        if not isinstance(x, Tensor):
            raise TypeError(f"input must be a torch.Tensor, got {type(x).__name__}")
        if x.dim() != 3 or x.shape[-1] != self.in_features:
            raise ValueError(
                f"input must be time-major [T, B, {self.in_features}], got shape {tuple(x.shape)}"
            )
        if not x.is_floating_point():
            raise TypeError(f"input must be a floating tensor, got {x.dtype}")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"input has an empty time or batch axis: shape {tuple(x.shape)}")
        # NaN/inf are checked where data enter (SequenceData, spikeopt.validation.check_sequences); here
        # only on the CPU: on a GPU the check would synchronise the device on every forward pass
        if x.device.type == "cpu" and not torch.isfinite(x).all():
            raise ValueError("input contains NaN or inf")

    def layer_currents(self, layer: int, inputs: Tensor) -> Tensor:
        """Input currents of ``layer`` for all steps: ``[T, B, F]`` or ``[T, B, K, m]`` -> ``[T, B, K, m]``."""
        w, b = self.weights[layer], self.biases[layer]
        if layer == 0:  # one GEMM with the bias folded in (a single pass over the [T*B, K*m] output)
            t, bsz, f = inputs.shape
            flat = torch.addmm(b.reshape(-1), inputs.reshape(t * bsz, f), w.permute(1, 0, 2).reshape(f, -1))
            return flat.reshape(t, bsz, *b.shape)
        cur = torch.einsum("tbkm,kmn->tbkn", inputs, w)
        return cur + b

    def delayed(self, x: Tensor, history: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """The delay line: ``x [T, B, F] -> [T, B, F * len(delays)]`` (delay-major), and its new history.

        ``history`` holds the last ``max_delay`` inputs before ``x`` (zeros when ``None``), so that
        running a sequence in pieces (``step`` by ``step``) sees the same delayed inputs as at once.
        """
        if self.max_delay == 0:
            return x, None
        steps = x.shape[0]
        if history is None:
            history = x.new_zeros((self.max_delay, *x.shape[1:]))
        full = torch.cat([history.to(x.dtype), x], dim=0)
        start = self.max_delay
        taps = [full[start - d : start - d + steps] for d in self.delays]
        return torch.cat(taps, dim=-1), full[-self.max_delay :]

    def _unpack(self, state: NetworkState | None) -> tuple[NetworkState | None, Tensor | None, Tensor | None]:
        """``state`` -> (LIF states, integrator membrane, delay history); see :data:`NetworkState`."""
        if state is None:
            return None, None, None
        lif, rest = tuple(state[: self.depth]), list(state[self.depth :])
        acc = rest.pop(0) if self.readout == "integrate" and rest else None
        history = rest.pop(0) if self.max_delay > 0 and rest else None
        return lif, acc, history

    def _pack(self, lif: NetworkState, acc: Tensor | None, history: Tensor | None) -> NetworkState:
        extra = ([acc] if self.readout == "integrate" else []) + ([history] if self.max_delay > 0 else [])
        return (*lif, *extra)

    def hidden(self, x: Tensor, state: NetworkState | None = None) -> tuple[Tensor, NetworkState]:
        """The last hidden layer's spikes ``[T, B, K, width]`` and the new state (layout of ``forward``)."""
        self.check_input(x)
        if x.dtype != self.weights[0].dtype:  # e.g. float64 data into a float32 net: compute in the net's dtype
            x = x.to(self.weights[0].dtype)
        lif_in, acc, history = self._unpack(state)
        h, history = self.delayed(x, history)
        spike_fn = self._spike_fn()
        states: list[LIFState] = []
        for layer in range(self.depth):
            cur = self.layer_currents(layer, h)
            h, _, st = lif_rollout(
                cur, self.beta[layer], self.threshold[layer], self.reset_mechanism, spike_fn,
                self.detach_reset, None if lif_in is None else lif_in[layer],
            )
            states.append(st)
        return h, self._pack(tuple(states), acc, history)

    def read(self, spikes: Tensor) -> Tensor:
        """The linear readout of hidden spikes ``[..., K, width] -> [..., out_features]``."""
        return self.output(spikes.flatten(-2))

    def _integrate(self, currents: Tensor, acc: Tensor | None) -> Tensor:
        """Leaky integration ``acc = leak * acc + current`` over ``currents [T, B, O]`` from membrane ``acc``."""
        if currents.shape[0] == 0:
            return currents.new_zeros(currents.shape[1:]) if acc is None else acc
        return leaky_integrate(currents, self.readout_leak, acc)[-1]

    def forward(self, x: Tensor, state: NetworkState | None = None) -> tuple[Tensor, NetworkState]:
        if state is None and self.uses_blocked_rollout():
            return self._blocked_forward(x)
        h, new = self.hidden(x, state)
        lif, _, history = self._unpack(new)
        if self.readout == "integrate":
            acc = self._integrate(self.read(h), self._unpack(state)[1])
            return acc, self._pack(lif, acc, history)
        if self.readout == "final":
            return self.read(h[-1]), new
        return self.read(h), new

    def rollout_plan(self, steps: int, batch: int, reduce: str) -> blocked.Plan:
        """How :mod:`spikeopt.snn.blocked` rolls ``steps`` x ``batch`` through this network's hidden layers."""
        if self.block_steps is not None:
            check_int(self.block_steps, "block_steps", 1)
        block, segment = blocked.block_and_segment(steps, batch, self.subnetworks * self.width, self.depth,
                                                   self.weights[0].element_size(), self.checkpoint_time,
                                                   self.block_steps, self.weights[0].is_cuda)
        time_weights = None
        if reduce == "sum":
            powers = torch.arange(steps - 1, -1, -1, dtype=torch.float64)
            time_weights = (self.readout_leak ** powers).to(self.weights[0])
        return blocked.Plan(
            betas=[_as_scalar(b) for b in self.beta], thresholds=[_as_scalar(t) for t in self.threshold],
            reset=self.reset_mechanism, surrogate=self.surrogate, detach_reset=self.detach_reset,
            reduce=reduce, time_weights=time_weights, block=block, segment=segment,
        )

    def uses_blocked_rollout(self) -> bool:
        """Whether ``forward`` from the zero state takes :mod:`spikeopt.snn.blocked` (hard spikes, subtract/no reset)."""
        return self.spike_mode == "hard" and self.reset_mechanism in FUSED_RESETS

    def rollout_bytes(self, steps: int, batch: int, grad: bool) -> int:
        """Bytes the blocked ``forward`` (and backward, with ``grad``) of ``batch`` sequences of ``steps`` holds."""
        if self.block_steps is not None:
            check_int(self.block_steps, "block_steps", 1)
        reduce = {"final": "final", "integrate": "sum", "per_step": "all"}[self.readout]
        return blocked.rollout_bytes(steps, batch, self.in_features * len(self.delays), self.subnetworks * self.width,
                                     self.depth, reduce, grad, self.weights[0].element_size(), self.checkpoint_time,
                                     self.block_steps, self.weights[0].is_cuda)

    def _blocked_forward(self, x: Tensor) -> tuple[Tensor, NetworkState]:
        """``forward`` from the zero state, time rolled in blocks (same spikes; memory flat in T)."""
        self.check_input(x)
        if x.dtype != self.weights[0].dtype:
            x = x.to(self.weights[0].dtype)
        h, history = self.delayed(x, None)
        reduce = {"final": "final", "integrate": "sum", "per_step": "all"}[self.readout]
        plan = self.rollout_plan(h.shape[0], h.shape[1], reduce)
        out, states = blocked.blocked_stack(h, list(self.weights), list(self.biases), plan)
        lif = tuple(states)
        if reduce == "sum":  # sum_t w[t] (W s[t] + b) = W (sum_t w[t] s[t]) + b sum_t w[t]
            total = plan.time_weights.sum()
            acc = torch.addmm(self.output.bias * total, out.flatten(-2), self.output.weight.t())
            return acc, self._pack(lif, acc, history)
        return self.read(out), self._pack(lif, None, history)

    def step(self, x_t: Tensor, state: NetworkState | None = None) -> tuple[Tensor, NetworkState]:
        """One timestep ``x_t [B, in_features] -> out_t [B, out_features]`` (for autoregressive rollout)."""
        if not isinstance(x_t, Tensor) or x_t.dim() != 2:
            raise ValueError(f"step expects one timestep [B, {self.in_features}], got {getattr(x_t, 'shape', x_t)}")
        out, new = self.forward(x_t.unsqueeze(0), state)
        return (out if self.readout == "integrate" else out[-1] if self.readout == "per_step" else out), new

    @torch.no_grad()
    def spike_readout(self, x: Tensor, reduce: str = "final", time_weights: Tensor | None = None,
                      block_steps: int | None = None) -> Tensor:
        """Hard spikes of the last hidden layer from the zero state, reduced over time (for dictionaries).

        ``reduce="final"``: the last step's ``[B, K, width]``; ``"sum"``: ``sum_t time_weights[t] s[t]``
        ``[B, K, width]``; ``"all"``: ``[T, B, K, width]`` (= :meth:`hidden_spikes`). Every reset takes
        the subnetwork-major rollout (:mod:`spikeopt.snn.kmajor`), which never holds more than a
        block of steps.
        """
        check_choice(reduce, "reduce", blocked.REDUCES)
        if reduce == "sum" and (time_weights is None or time_weights.shape != (x.shape[0],)):
            raise ValueError(f"reduce='sum' needs time_weights of shape ({x.shape[0]},)")
        self.check_input(x)
        if x.dtype != self.weights[0].dtype:
            x = x.to(self.weights[0].dtype)
        h, _ = self.delayed(x, None)
        tw = time_weights.to(h) if time_weights is not None else None
        return kmajor.roll_kmajor(
            h, list(self.weights), list(self.biases), [_as_scalar(b) for b in self.beta],
            [_as_scalar(t) for t in self.threshold], self.reset_mechanism, reduce, tw, block_steps,
        )

    @torch.no_grad()
    def hidden_spikes(self, x: Tensor) -> Tensor:
        """Hard spikes of the last hidden layer ``[T, B, K, width]`` (what the convex method reads)."""
        with spike_mode(self, "hard"):
            return self.hidden(x)[0]


@contextmanager
def spike_mode(model: ParallelLIFSNN, mode: str) -> Iterator[ParallelLIFSNN]:
    """Run ``model`` with ``spike_mode = mode`` inside the block, restoring the previous mode after."""
    check_choice(mode, "spike mode", SPIKE_MODES)
    old, model.spike_mode = model.spike_mode, mode
    try:
        yield model
    finally:
        model.spike_mode = old
