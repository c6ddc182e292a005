"""The whole hidden stack of a ParallelLIFSNN rolled a block of steps at a time, forward and backward.

Why: computing every layer's currents for all ``T`` steps at once, then the LIF loop over them,
then (backward) the gradient of every current for all ``T`` steps, streams tensors of ``T * B * K
* m`` floats through memory several times per step -- at ``T >= 128`` they no longer fit in any
cache and every per-step operation runs at memory speed; the allocations themselves (fresh pages
from the OS each call) cost as much again. Here the currents of a block of ``block`` steps are
computed into a reused buffer, consumed by the LIF loop, and (backward) their gradients are
computed into another reused buffer and consumed at once by the weight-gradient GEMMs. What is
kept between forward and backward is one membrane trace per layer (spikes are ``mem > theta``,
recomputed); with ``checkpoint=True`` only the membranes at segment boundaries (every
``segment`` steps, about ``sqrt(T)``) are kept and each segment is rerun in the backward pass,
so memory grows like ``sqrt(T)`` instead of ``T``.

The readout is reduced inside: ``"final"`` returns the last step's spikes (so no zero-filled
``[T, ...]`` gradient is ever made for a final-step readout), ``"sum"`` the time-weighted spike sum
``sum_t w[t] s[t]`` (a leaky-integrator readout is linear in it), ``"all"`` every step's spikes.

The arithmetic is that of :mod:`spikeopt.snn.lif` and :mod:`spikeopt.snn.fused` (same operations
in the same order), so the spikes are the same bit for bit; gradients differ from the all-at-once
computation only by the summation order of the weight-gradient GEMMs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from spikeopt.snn import triton_lif, workspace
from spikeopt.snn.lif import LIFState
from spikeopt.snn.surrogate import Surrogate
from spikeopt.snn.surrogate_into import derivative_into
from spikeopt.validation import check_choice

REDUCES = ("final", "sum", "all")
BLOCK_ELEMENTS = 2**19  # floats of one block's currents: 2 MiB in float32, fits the last-level cache slice
# On a GPU fewer, larger blocks: each block costs kernel launches, not cache misses. 2^26 floats
# (256 MiB in float32) hold T = 1,024 x 128 x 512 in one block: an SG step there took 2.43 ms on an
# H100 against 4.75 ms at 2^23 (benchmarks/gpu_profile.py); the buffers stay within a few GiB.
GPU_BLOCK_ELEMENTS = 2**26
CHECKPOINT_BYTES = 256 * 2**20  # "auto": checkpoint when the kept membranes would exceed this


@dataclass
class Plan:
    """Everything but the tensors: the LIF constants of every layer and how to block time."""

    betas: list  # per layer: a float or a tensor [K, m]
    thresholds: list
    reset: str
    surrogate: Surrogate
    detach_reset: bool
    reduce: str
    time_weights: Tensor | None
    block: int
    segment: int


def choose_block(batch: int, neurons: int, steps: int, gpu: bool = False) -> int:
    """Steps per block: as many as keep one block's currents within :data:`BLOCK_ELEMENTS` floats
    (:data:`GPU_BLOCK_ELEMENTS` on a GPU)."""
    elements = GPU_BLOCK_ELEMENTS if gpu else BLOCK_ELEMENTS
    return max(1, min(steps, elements // max(1, batch * neurons)))


def choose_segment(steps: int, block: int, checkpoint: bool, step_bytes: int) -> int:
    """Steps per checkpoint segment (whole blocks): all of them without checkpointing.

    With checkpointing, one block per segment while the kept boundary membranes stay within
    ``CHECKPOINT_BYTES / 4`` (the rerun segment then stays in cache), else about ``sqrt(T)`` steps
    so that boundaries and one rerun segment together grow like ``sqrt(T)``.
    """
    if not checkpoint:
        return steps
    if math.ceil(steps / block) * step_bytes <= CHECKPOINT_BYTES // 4:
        return block
    blocks = math.ceil(math.sqrt(steps / block))
    return max(block, min(steps, blocks * block))


def wants_checkpoint(checkpoint: bool | str, kept_bytes: int) -> bool:
    if checkpoint == "auto":
        return kept_bytes > CHECKPOINT_BYTES
    if not isinstance(checkpoint, bool):
        raise ValueError(f"checkpoint must be True, False or 'auto', got {checkpoint!r}")
    return checkpoint


def block_and_segment(steps: int, batch: int, neurons: int, depth: int, itemsize: int,
                      checkpoint: bool | str = "auto", block_steps: int | None = None,
                      gpu: bool = False) -> tuple[int, int]:
    """Steps per block and per checkpoint segment that a rollout of these sizes uses."""
    block = min(block_steps or choose_block(batch, neurons, steps, gpu), steps)
    step_bytes = depth * batch * neurons * itemsize
    return block, choose_segment(steps, block, wants_checkpoint(checkpoint, steps * step_bytes), step_bytes)


def rollout_bytes(steps: int, batch: int, fan_in: int, neurons: int, depth: int, reduce: str, grad: bool,
                  itemsize: int = 4, checkpoint: bool | str = "auto", block_steps: int | None = None,
                  gpu: bool = False) -> int:
    """Peak bytes of one blocked rollout (forward, and backward with ``grad``) from sizes alone.

    Why: the up-front memory checks run before (or without) a model; this is the same count as
    ``ParallelLIFSNN.rollout_bytes`` (the input ``[T, B, fan_in]``, twice with its gradient, plus
    :func:`memory_bytes`).
    """
    check_choice(reduce, "reduce", REDUCES)
    block, segment = block_and_segment(steps, batch, neurons, depth, itemsize, checkpoint, block_steps, gpu)
    sizes = Plan(betas=[], thresholds=[], reset="subtract", surrogate=None, detach_reset=True,  # type: ignore[arg-type]
                 reduce=reduce, time_weights=None, block=block, segment=segment)
    inputs = steps * batch * fan_in * itemsize * (2 if grad else 1)
    return inputs + memory_bytes(steps, batch, neurons, depth, itemsize, sizes, grad)


def memory_bytes(steps: int, batch: int, neurons: int, depth: int, itemsize: int, plan: Plan, grad: bool) -> int:
    """Bytes one call holds at its peak: kept membranes, block buffers, the readout (and its gradient)."""
    step = batch * neurons * itemsize
    buffers = (3 + 2 * depth) * plan.block * step
    readout = steps * step if plan.reduce == "all" else step
    if not grad:
        return buffers + readout + 2 * depth * step
    if plan.segment < steps:
        kept = (math.ceil(steps / plan.segment) + plan.segment) * step * depth
    else:
        kept = steps * step * depth
    return kept + buffers + 6 * plan.block * step + 2 * readout + 4 * depth * step


# ------------------------------------------------------------------------------------- forward
def _currents(layer: int, inp: Tensor, weights: list[Tensor], biases: list[Tensor], w0_flat: Tensor, out: Tensor) -> Tensor:
    """Input currents of ``layer`` for one block (the expressions of ``ParallelLIFSNN.layer_currents``)."""
    n = inp.shape[0]
    if layer == 0:
        bsz, f = inp.shape[1], inp.shape[2]
        flat = out[:n].view(n * bsz, -1)
        torch.addmm(biases[0].reshape(-1), inp.reshape(n * bsz, f), w0_flat, out=flat)
        return out[:n]
    cur = torch.einsum("tbkm,kmn->tbkn", inp, weights[layer])
    return torch.add(cur, biases[layer], out=out[:n])


def _lif_steps(cur: Tensor, mems: Tensor, spikes: Tensor, state_mem: Tensor, state_spk: Tensor, beta, thr,
               reset: str) -> None:
    """The LIF loop over one block (in place): ``mems``/``spikes`` get every step, the state the last."""
    if triton_lif.usable(cur):  # one fused kernel for the block on a GPU; same roundings
        triton_lif.lif_forward(cur.permute(0, 2, 1, 3), mems.permute(0, 2, 1, 3), spikes.permute(0, 2, 1, 3),
                               state_mem.permute(1, 0, 2), state_spk.permute(1, 0, 2), beta, thr, reset)
        return
    prev_mem, prev_spk = state_mem, state_spk
    for t in range(cur.shape[0]):
        out = mems[t]
        torch.mul(prev_mem, beta, out=out)
        out.add_(cur[t])
        if reset == "subtract":
            if isinstance(thr, Tensor):
                out.addcmul_(prev_spk, thr, value=-1.0)
            else:
                out.add_(prev_spk, alpha=-float(thr))
        torch.gt(out, thr, out=spikes[t])
        prev_mem, prev_spk = out, spikes[t]
    state_mem.copy_(prev_mem)
    state_spk.copy_(prev_spk)


class _Buffers:
    """Reused per-block tensors: currents, spikes of every layer, and the running LIF states."""

    def __init__(self, like: Tensor, block: int, depth: int, bsz: int, k: int, m: int) -> None:
        shape = (block, bsz, k, m)
        self.cur = workspace.take(shape, like)
        self.spikes = [workspace.take(shape, like) for _ in range(depth)]
        self.mem = [workspace.take(shape[1:], like).zero_() for _ in range(depth)]
        self.spk = [workspace.take(shape[1:], like).zero_() for _ in range(depth)]
        self.scratch = workspace.take(shape, like)  # membranes nobody keeps

    def give_back(self, keep_state: bool = False) -> None:
        workspace.give(self.cur, *self.spikes, self.scratch, *([] if keep_state else [*self.mem, *self.spk]))


def _roll_segment(x: Tensor, s0: int, s1: int, weights, biases, w0_flat, plan: Plan, buf: _Buffers,
                  store: list[Tensor] | None, out: Tensor | None) -> None:
    """Forward over steps ``[s0, s1)``, continuing from the states in ``buf``.

    Membranes go to ``store[l][t - s0]`` (to a block scratch when ``store`` is None), the readout
    into ``out`` (nothing when None).
    """
    depth, steps = len(weights), x.shape[0]
    for c0 in range(s0, s1, plan.block):
        c1 = min(c0 + plan.block, s1)
        inp: Tensor = x[c0:c1]
        for layer in range(depth):
            cur = _currents(layer, inp, weights, biases, w0_flat, buf.cur)
            spikes = buf.spikes[layer][: c1 - c0]
            mems = buf.scratch[: c1 - c0] if store is None else store[layer][c0 - s0 : c1 - s0]
            _lif_steps(cur, mems, spikes, buf.mem[layer], buf.spk[layer],
                       plan.betas[layer], plan.thresholds[layer], plan.reset)
            inp = spikes
        if out is None:
            continue
        if plan.reduce == "all":
            out[c0:c1].copy_(inp)
        elif plan.reduce == "sum":
            out.add_(torch.tensordot(plan.time_weights[c0:c1], inp, dims=1))
        elif c1 == steps:
            out.copy_(inp[-1])


def _w0_flat(w0: Tensor) -> Tensor:
    return w0.permute(1, 0, 2).reshape(w0.shape[1], -1)


def _new_output(x: Tensor, plan: Plan, k: int, m: int) -> Tensor:
    steps, bsz = x.shape[0], x.shape[1]
    if plan.reduce == "all":
        return x.new_empty((steps, bsz, k, m))
    return x.new_zeros((bsz, k, m))


def roll_nograd(x: Tensor, weights: list[Tensor], biases: list[Tensor], plan: Plan) -> tuple[Tensor, list[LIFState]]:
    """The readout and the last LIF state of every layer, keeping nothing else (inference, dictionaries)."""
    with torch.no_grad():
        k, m = biases[0].shape
        buf = _Buffers(x, plan.block, len(weights), x.shape[1], k, m)
        out = _new_output(x, plan, k, m)
        _roll_segment(x, 0, x.shape[0], weights, biases, _w0_flat(weights[0]), plan, buf, None, out)
        states = [LIFState(mem, spk) for mem, spk in zip(buf.mem, buf.spk)]
        buf.give_back(keep_state=True)
        return out, states


# ------------------------------------------------------------------------------------ backward
class _Work:
    """Reused backward buffers of one block: current gradients, derivatives, top spike gradients, a step temp."""

    def __init__(self, like: Tensor, shape: tuple[int, ...]) -> None:
        self.grad = workspace.take(shape, like)
        self.deriv = workspace.take(shape, like)
        self.scratch = workspace.take(shape, like)
        self.top = workspace.take(shape, like)
        self.step = workspace.take(shape[1:], like)

    def give_back(self) -> None:
        workspace.give(self.grad, self.deriv, self.scratch, self.top, self.step)


def _adjoint_block(mems: Tensor, g_spk: Tensor | None, first: int, nxt: Tensor | None, g_last: Tensor | None,
                   beta, thr, plan: Plan, work: _Work) -> Tensor | None:
    """Gradients of one block's currents ``[n, ...]`` by the adjoint recurrence (see :mod:`fused`).

    ``g_spk`` is the gradient of the spikes at steps ``first..n-1`` of the block (earlier steps get
    none: a final-step readout passes only the last step); ``nxt`` the gradient of the step after
    the block (``None`` at the end); ``g_last`` an extra membrane gradient at the block's last step
    (the final state's). Returns ``None`` when the gradient is zero. The operations per step are
    those of :class:`fused.LIFRollout`'s backward, in the same order.
    """
    n = mems.shape[0]
    coupled = plan.reset == "subtract" and not plan.detach_reset
    if g_spk is None and nxt is None and g_last is None:
        return None
    grad = work.grad[:n]
    d0 = 0 if coupled else (first if g_spk is not None else n)
    deriv = None
    if d0 < n:  # f'(u - theta) where some gradient needs it
        x = torch.sub(mems[d0:], thr, out=work.scratch[: n - d0])
        deriv = derivative_into(plan.surrogate, x, work.deriv[: n - d0], x)
    if g_spk is not None and not coupled:
        torch.mul(g_spk, deriv[first - d0 :], out=grad[first:])
    if triton_lif.usable(grad):  # the loop over steps as one kernel on a GPU
        if not coupled:
            grad[: first if g_spk is not None else n].zero_()
        triton_lif.lif_adjoint(grad, g_spk if coupled else None, first, deriv if coupled else None, nxt, g_last,
                               beta, thr, coupled)
        return grad
    tmp = work.step
    if coupled:
        for t in range(n - 1, -1, -1):
            g = grad[t]
            has_spk = g_spk is not None and t >= first
            if nxt is not None:
                torch.mul(nxt, thr, out=tmp)
                if has_spk:
                    torch.sub(g_spk[t - first], tmp, out=tmp)
                else:
                    tmp.neg_()
                torch.mul(tmp, deriv[t], out=g)
            elif has_spk:
                torch.mul(g_spk[t - first], deriv[t], out=g)
            else:
                g.zero_()
            _finish_step(g, t == n - 1, g_last, nxt, beta)
            nxt = g
        return grad
    stop = first if g_spk is not None else n
    for t in range(n - 1, stop - 1, -1):  # steps whose spikes receive gradient
        _finish_step(grad[t], t == n - 1, g_last, nxt, beta)
        nxt = grad[t]
    if stop == n and nxt is None:  # only the final state's membrane gradient
        grad[n - 1].copy_(g_last)
        nxt, stop = grad[n - 1], n - 1
    if stop > 0:  # no spike gradient before ``stop``: g[t] = beta^(stop - t) g[stop], one product
        torch.mul(_decay(beta, stop, grad), nxt, out=grad[:stop])
    return grad


def _finish_step(g: Tensor, last: bool, g_last: Tensor | None, nxt: Tensor | None, beta) -> None:
    """``g += g_last`` (at the block's last step) ``+ beta * nxt``, as the fused backward adds them."""
    if last and g_last is not None:
        g.add_(g_last)
    if nxt is not None:
        if isinstance(beta, Tensor):
            g.addcmul_(nxt, beta)
        else:
            g.add_(nxt, alpha=float(beta))


def _decay(beta, count: int, like: Tensor) -> Tensor:
    """``beta^(count - j)`` for ``j < count``, shaped to multiply ``[count, B, K, m]`` (powers in float64)."""
    exponents = torch.arange(count, 0, -1, dtype=torch.float64, device=like.device)
    if isinstance(beta, Tensor):
        return torch.pow(beta.to(torch.float64), exponents.view(-1, 1, 1)).to(like.dtype).unsqueeze(1)
    return torch.pow(float(beta), exponents).to(like.dtype).view(-1, 1, 1, 1)


class BlockedStack(torch.autograd.Function):
    """``(x, plan, *weights, *biases) -> (readout, *last membranes, *last spikes)`` with the blocked backward.

    The last spikes carry the surrogate gradient to the last membranes, as a spike function would.
    """

    @staticmethod
    def forward(ctx, x, plan, *params):  # type: ignore[override]
        depth = len(params) // 2
        weights, biases = list(params[:depth]), list(params[depth:])
        steps, bsz = x.shape[0], x.shape[1]
        k, m = biases[0].shape
        checkpoint = plan.segment < steps
        buf = _Buffers(x, plan.block, depth, bsz, k, m)
        out = _new_output(x, plan, k, m)
        w0_flat = _w0_flat(weights[0])
        if checkpoint:
            starts = list(range(0, steps, plan.segment))
            bounds = [workspace.take((len(starts), bsz, k, m), x) for _ in range(depth)]
            for i, s0 in enumerate(starts):
                for layer in range(depth):
                    bounds[layer][i].copy_(buf.mem[layer])
                _roll_segment(x, s0, min(s0 + plan.segment, steps), weights, biases, w0_flat, plan, buf, None, out)
            kept = bounds
        else:
            kept = [workspace.take((steps, bsz, k, m), x) for _ in range(depth)]
            _roll_segment(x, 0, steps, weights, biases, w0_flat, plan, buf, kept, out)
        ctx.save_for_backward(x, *params)
        ctx.kept = kept  # pooled, reused after the backward: not a saved tensor (its version would move on)
        ctx.plan, ctx.depth, ctx.checkpoint, ctx.recycled = plan, depth, checkpoint, False
        ctx.set_materialize_grads(False)
        ctx.last_mems = [mem.clone() for mem in buf.mem]
        states = (*[mem.clone() for mem in buf.mem], *buf.spk)
        buf.give_back(keep_state=True)
        return (out, *states)

    @staticmethod
    def backward(ctx, g_out, *g_states):  # type: ignore[override]
        plan, depth = ctx.plan, ctx.depth
        g_lasts = _final_membrane_grads(g_states, ctx.last_mems, plan)
        saved = ctx.saved_tensors
        x, weights, biases = saved[0], list(saved[1 : 1 + depth]), list(saved[1 + depth :])
        kept = ctx.kept
        steps, bsz = x.shape[0], x.shape[1]
        k, m = biases[0].shape
        w0_flat = _w0_flat(weights[0])
        g_w0 = torch.zeros_like(w0_flat)
        g_w = [None] + [torch.zeros_like(w) for w in weights[1:]]
        g_b = [torch.zeros_like(b) for b in biases]
        g_x = torch.zeros_like(x) if ctx.needs_input_grad[0] else None
        work = _Work(x, (plan.block, bsz, k, m))
        next_bufs = [workspace.take((bsz, k, m), x) for _ in range(depth)]
        nxt: list[Tensor | None] = [None] * depth
        checkpoint = ctx.checkpoint
        if ctx.recycled:  # a second backward (retain_graph): the kept membranes were reused, roll again
            checkpoint, kept = False, [workspace.take((steps, bsz, k, m), x) for _ in range(depth)]
            again = _Buffers(x, plan.block, depth, bsz, k, m)
            with torch.no_grad():
                _roll_segment(x, 0, steps, weights, biases, w0_flat, plan, again, kept, None)
            again.give_back()
        buf = seg = None
        if checkpoint:
            buf = _Buffers(x, plan.block, depth, bsz, k, m)
            seg = [workspace.take((plan.segment, bsz, k, m), x) for _ in range(depth)]
            starts = list(range(0, steps, plan.segment))
        else:
            starts = [0]
        for i in range(len(starts) - 1, -1, -1):
            s0 = starts[i]
            s1 = min(s0 + plan.segment, steps) if checkpoint else steps
            if checkpoint:
                for layer in range(depth):
                    buf.mem[layer].copy_(kept[layer][i])
                    torch.gt(buf.mem[layer], plan.thresholds[layer], out=buf.spk[layer])  # as the forward made it
                with torch.no_grad():
                    _roll_segment(x, s0, s1, weights, biases, w0_flat, plan, buf, seg, None)
                mems = seg
            else:
                mems = kept
            last_block = ((s1 - s0 - 1) // plan.block) * plan.block + s0
            for c0 in range(last_block, s0 - 1, -plan.block):
                c1 = min(c0 + plan.block, s1)
                n = c1 - c0
                g_spk, first = _top_spike_grad(g_out, plan, c0, c1, steps, work)
                for layer in range(depth - 1, -1, -1):
                    block_mems = mems[layer][c0 - s0 : c1 - s0]
                    g_last = g_lasts[layer] if (c1 == steps and g_lasts[layer] is not None) else None
                    gcur = _adjoint_block(block_mems, g_spk, first, nxt[layer], g_last, plan.betas[layer],
                                          plan.thresholds[layer], plan, work)
                    first = 0
                    if gcur is None:
                        g_spk = None
                        continue
                    nxt[layer] = next_bufs[layer].copy_(gcur[0])
                    g_b[layer].add_(gcur.sum(dim=(0, 1)))
                    if layer == 0:
                        inp = x[c0:c1].reshape(n * bsz, -1)
                        flat = gcur.reshape(n * bsz, -1)
                        g_w0.addmm_(inp.t(), flat)
                        if g_x is not None:
                            g_x[c0:c1] = (flat @ w0_flat.t()).reshape(n, bsz, -1)
                    else:
                        below = mems[layer - 1][c0 - s0 : c1 - s0]
                        inp = (below > plan.thresholds[layer - 1]).to(x.dtype)
                        g_w[layer].add_(torch.einsum("tbkm,tbkn->kmn", inp, gcur))
                        g_spk = torch.einsum("tbkn,kmn->tbkm", gcur, weights[layer])
        g_w[0] = g_w0.reshape(x.shape[2], k, m).permute(1, 0, 2)
        work.give_back()
        workspace.give(*kept, *(seg or []), *next_bufs)
        if buf is not None:
            buf.give_back()
        ctx.recycled, ctx.kept = True, None
        return (g_x, None, *g_w, *g_b)


def _top_spike_grad(g_out: Tensor | None, plan: Plan, c0: int, c1: int, steps: int,
                    work: _Work) -> tuple[Tensor | None, int]:
    """The gradient reaching the last layer's spikes in block ``[c0, c1)`` from the reduced readout,
    and the block step it starts at (a final-step readout reaches the last step only)."""
    if g_out is None:
        return None, 0
    if plan.reduce == "all":
        return g_out[c0:c1], 0
    if plan.reduce == "sum":
        return torch.mul(plan.time_weights[c0:c1].view(-1, 1, 1, 1), g_out, out=work.top[: c1 - c0]), 0
    if c1 != steps:
        return None, 0
    return g_out.unsqueeze(0), c1 - c0 - 1


def blocked_stack(x: Tensor, weights: list[Tensor], biases: list[Tensor], plan: Plan) -> tuple[Tensor, list[Tensor]]:
    """The readout and the last membranes of every layer; differentiable when anything requires grad."""
    needs_grad = torch.is_grad_enabled() and (x.requires_grad or any(p.requires_grad for p in (*weights, *biases)))
    if not needs_grad:
        return roll_nograd(x, weights, biases, plan)
    out, *states = BlockedStack.apply(x, plan, *weights, *biases)
    depth = len(weights)
    return out, [LIFState(mem, spk) for mem, spk in zip(states[:depth], states[depth:])]


def _final_membrane_grads(g_states, last_mems: list[Tensor], plan: Plan) -> list[Tensor | None]:
    """Gradients of the final states as membrane gradients: ``dL/du + dL/ds f'(u - theta)`` per layer."""
    depth = len(last_mems)
    out: list[Tensor | None] = []
    for layer in range(depth):
        g_mem, g_spk = g_states[layer], g_states[depth + layer]
        if g_spk is not None:
            via_spike = g_spk * plan.surrogate.derivative(last_mems[layer] - plan.thresholds[layer])
            g_mem = via_spike if g_mem is None else g_mem + via_spike
        out.append(g_mem)
    return out
