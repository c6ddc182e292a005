"""The Triton kernels behind :mod:`spikeopt.snn.triton_lif` (imported only when a kernel is launched).

``lif_forward_kernel``: ``u = u * beta + I - theta * s`` (or the zero reset), ``s = u > theta``, a
block of neurons per program, the whole block of steps in a loop. ``lif_adjoint_kernel``: the
adjoint recurrence of :mod:`spikeopt.snn.fused` backwards over the steps.
"""

import triton
import triton.language as tl


@triton.jit
def lif_forward_kernel(cur, cs_t, cs_k, cs_b, cs_j, mem, ms_t, ms_k, ms_b, ms_j,
                        spk, ss_t, ss_k, ss_b, ss_j, u0, us_k, us_b, us_j, s0, zs_k, zs_b, zs_j,
                        beta, bs_k, bs_j, thr, ts_k, ts_j, steps, B, M, total,
                        RESET: tl.constexpr, WRITE_MEM: tl.constexpr, BLOCK: tl.constexpr):
    e = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    live = e < total
    j = e % M
    b = (e // M) % B
    k = e // (M * B)
    u = tl.load(u0 + k * us_k + b * us_b + j * us_j, mask=live, other=0.0)
    s = tl.load(s0 + k * zs_k + b * zs_b + j * zs_j, mask=live, other=0.0)
    be = tl.load(beta + k * bs_k + j * bs_j, mask=live, other=0.0)
    th = tl.load(thr + k * ts_k + j * ts_j, mask=live, other=0.0)
    c_off = k * cs_k + b * cs_b + j * cs_j
    m_off = k * ms_k + b * ms_b + j * ms_j
    s_off = k * ss_k + b * ss_b + j * ss_j
    for t in range(steps):
        current = tl.load(cur + t * cs_t + c_off, mask=live, other=0.0)
        if RESET == 2:  # zero: (beta * (1 - s)) * u + I; 1 - s and beta * (1 - s) are exact
            u = u * ((1.0 - s) * be)
        else:
            u = u * be
        u = u + current
        if RESET == 1:  # subtract: theta * s is exact (s is 0 or 1)
            u = u - th * s
        s = (u > th).to(u.dtype)
        if WRITE_MEM:
            tl.store(mem + t * ms_t + m_off, u, mask=live)
        tl.store(spk + t * ss_t + s_off, s, mask=live)
    tl.store(u0 + k * us_k + b * us_b + j * us_j, u, mask=live)
    tl.store(s0 + k * zs_k + b * zs_b + j * zs_j, s, mask=live)

@triton.jit
def lif_adjoint_kernel(grad, gspk, deriv, nxt, g_last, beta, thr, steps, first, NEURONS, total,
                        HAS_NXT: tl.constexpr, HAS_LAST: tl.constexpr, HAS_SPK: tl.constexpr,
                        COUPLED: tl.constexpr, BLOCK: tl.constexpr):
    e = tl.program_id(0) * BLOCK + tl.arange(0, BLOCK)
    live = e < total
    neuron = e % NEURONS
    be = tl.load(beta + neuron, mask=live, other=0.0)
    th = tl.load(thr + neuron, mask=live, other=0.0)
    if HAS_NXT:  # no step after the block: a zero "next" gradient adds nothing
        g_next = tl.load(nxt + e, mask=live, other=0.0)
    else:
        g_next = be * 0.0  # (tl.zeros is a jit function, which the interpreter cannot call here)
    for i in range(steps):
        t = steps - 1 - i
        if COUPLED:  # g = (dL/ds - theta * g_next) f'(u - theta) + dL/du + beta * g_next
            d = tl.load(deriv + t * total + e, mask=live, other=0.0)
            top = be * 0.0
            if HAS_SPK:
                if t >= first:
                    top = tl.load(gspk + (t - first) * total + e, mask=live, other=0.0)
            g = (top - g_next * th) * d
        else:  # ``grad`` already holds dL/ds f'(u - theta) (zero where no spike gradient)
            g = tl.load(grad + t * total + e, mask=live, other=0.0)
        if HAS_LAST:
            if i == 0:
                g = g + tl.load(g_last + e, mask=live, other=0.0)
        g = g + g_next * be
        tl.store(grad + t * total + e, g, mask=live)
        g_next = g
