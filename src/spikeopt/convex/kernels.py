r"""Compiled loops of the working-set solver: sparse column products and block coordinate descent.

Why compiled: coordinate descent updates one atom at a time, touching only the rows where that
atom spikes; written as numpy calls per atom the interpreter overhead would dominate. The loops
are plain Python that numba compiles when it is installed (a dependency of spikeopt); without
numba the very same functions run interpreted -- correct, only slow, which keeps the library
importable everywhere.

Working-set columns are held in CSC form ``(indptr, indices, data)`` with ``data`` in the
design's compact dtype (uint8 / float32 / float64; numba specialises per dtype); every product is
accumulated in float64.
"""

from __future__ import annotations

import math

import numpy as np

try:  # pragma: no cover - the branch taken depends on the environment
    from numba import njit

    HAVE_NUMBA = True
except ImportError:  # pragma: no cover
    HAVE_NUMBA = False

    def njit(*args, **kwargs):
        if len(args) == 1 and callable(args[0]):
            return args[0]
        return lambda f: f


@njit(cache=True)
def lif_statistic(drive, bias, beta, thr, weights, integrate, out):  # pragma: no cover - compiled
    """Each sample's firing statistic ``out [n, S]`` of a LIF layer (subtractive reset) driven by
    ``drive [T, n, S] + bias``: the last step's spike, or with ``integrate`` ``sum_t weights[t] s_t``.

    For witness calibration (:mod:`spikeopt.convex.calibrate`). float32 throughout, each operation
    rounded as in :func:`spikeopt.snn.lif.lif_step`: ``u = (beta u + (d + b)) - theta s``; ``theta s``
    and ``w s`` are exact (``s`` is 0 or 1). Per sample, the ``S`` membranes stay in cache over the steps.
    """
    steps, n, s = drive.shape
    zero = thr - thr
    one = zero + np.float32(1)
    mem = np.empty(s, dtype=np.float32)
    spk = np.empty(s, dtype=np.float32)
    acc = np.empty(s, dtype=np.float32)
    for i in range(n):
        mem[:] = zero
        spk[:] = zero
        acc[:] = zero
        for t in range(steps):
            d = drive[t, i]
            w = weights[t]
            for j in range(s):
                v = mem[j] * beta[j] + (d[j] + bias[j]) - thr * spk[j]
                mem[j] = v
                spk[j] = one if v > thr else zero
                if integrate:
                    acc[j] = acc[j] + w * spk[j]
        out[i] = acc if integrate else spk


@njit(cache=True)
def csc_dot(indptr, indices, data, W, out):
    """``out += A @ W`` for the CSC matrix ``A`` (n x k) and dense ``W`` (k x c)."""
    k, c = W.shape
    for j in range(k):
        for q in range(indptr[j], indptr[j + 1]):
            r = indices[q]
            v = float(data[q])
            for t in range(c):
                out[r, t] += v * W[j, t]


@njit(cache=True)
def csc_tdot(indptr, indices, data, R, out):
    """``out = A^T @ R`` for the CSC matrix ``A`` (n x k) and dense ``R`` (n x c)."""
    k = indptr.shape[0] - 1
    c = R.shape[1]
    for j in range(k):
        for t in range(c):
            out[j, t] = 0.0
        for q in range(indptr[j], indptr[j + 1]):
            r = indices[q]
            v = float(data[q])
            for t in range(c):
                out[j, t] += v * R[r, t]


@njit(cache=True)
def dense_tdot(A, Theta, outT, col_block, square):
    """``outT += (A^T Theta)^T`` for a dense ``A`` (n x p, compact dtype) and ``Theta`` (n x c, float64);
    with ``square``, of ``A`` squared entrywise (weighted squared column norms).

    Why: converting uint8 row blocks to float64 for BLAS cost more than the product itself (tall,
    skinny ``Theta``); here every entry is read once, in place. Columns go in blocks of
    ``col_block`` so the ``c x col_block`` accumulator stays in cache; each sum runs over the rows
    in order, so the round-off bound of ``Design.tdot_error`` (``gamma_n``) holds.
    """
    n, p = A.shape
    c = Theta.shape[1]
    for j0 in range(0, p, col_block):
        j1 = min(p, j0 + col_block)
        for i in range(n):
            row = A[i, j0:j1]  # 1-D views: the inner loop then vectorises
            for k in range(c):
                t = Theta[i, k]
                if t != 0.0:
                    acc = outT[k, j0:j1]
                    if square:
                        for j in range(j1 - j0):
                            acc[j] += float(row[j]) * float(row[j]) * t
                    else:
                        for j in range(j1 - j0):
                            acc[j] += row[j] * t


@njit(cache=True)
def csc_sq_tdot(indptr, indices, data, v, out):
    """``out_j = sum_i A_ij^2 v_i`` (per-column weighted squared norms)."""
    k = indptr.shape[0] - 1
    for j in range(k):
        s = 0.0
        for q in range(indptr[j], indptr[j + 1]):
            a = float(data[q])
            s += a * a * v[indices[q]]
        out[j] = s


@njit(cache=True)
def _hess_row(P, r, delta, bs, be, ba, bsoft, out):
    """``out = H_r delta`` with ``H_r`` block-diagonal: ``a (diag p - p p^T)`` (softmax) or ``a diag p``."""
    for b in range(bs.shape[0]):
        s, e, a = bs[b], be[b], ba[b]
        dot = 0.0
        if bsoft[b]:
            for t in range(s, e):
                dot += P[r, t] * delta[t]
        for t in range(s, e):
            out[t] = a * P[r, t] * (delta[t] - dot)


@njit(cache=True)
def _center_soft_blocks(g, bs, be, bsoft, cmask):
    """Remove the mean of ``g`` over the ``cmask`` columns of every softmax block (see cd_epoch)."""
    for b in range(bs.shape[0]):
        if bsoft[b]:
            m = 0.0
            cnt = 0
            for t in range(bs[b], be[b]):
                if cmask[t]:
                    m += g[t]
                    cnt += 1
            if cnt > 0:
                m /= cnt
                for t in range(bs[b], be[b]):
                    if cmask[t]:
                        g[t] -= m


@njit(cache=True)
def cd_epoch(indptr, indices, data, W, dW, G2, P, wn, bs, be, ba, bsoft, cmask, L, reg):
    r"""One pass of block coordinate descent over the atoms of the quadratic model

        m(dW) = <Gz, dZ> + 1/2 sum_i (w_i/n) dZ_i^T H_i dZ_i + reg sum_j ||W_j + dW_j||,  dZ = A dW,

    keeping ``G2 = Gz + diag(w/n) H dZ`` (the model's gradient in ``Z``) up to date; ``Gz`` is
    ``grad_Z F`` at the current point. Atom ``j`` takes the prox step of length ``1/L_j``
    (``L_j >= ||sum_i (w_i/n) A_ij^2 H_i||``): block soft-thresholding of its c-vector, so the
    model decreases monotonically. Returns ``max_j L_j ||step_j||`` (a gradient-mapping norm, 0 at
    the model's minimiser).

    On a softmax block the loss is flat along ``W_j -> W_j + a 1`` and the group norm is smallest
    at zero block mean, so every optimum has zero-mean blocks; the step is taken in that subspace
    (centered gradient; ``W_j + dW_j`` must start there), which removes the flat direction that the
    majorizer ``L_j I`` would otherwise crawl along. ``cmask`` leaves out classes whose logit is
    fixed at ``-inf`` in effect (absent classes with an intercept: probability exactly 0, flat).
    """
    k, c = W.shape
    g = np.empty(c)
    v = np.empty(c)
    hd = np.empty(c)
    delta = np.empty(c)
    viol = 0.0
    nb = bs.shape[0]
    plain = True  # squared loss: H_i = I (one non-softmax block of weight 1, P = 1)
    if nb != 1 or bsoft[0] or ba[0] != 1.0:
        plain = False
    one_soft = nb == 1 and bsoft[0] and bs[0] == 0 and be[0] == c  # one softmax block over all outputs
    a0 = ba[0]
    for j in range(k):
        Lj = L[j]
        if Lj <= 0.0:
            continue
        for t in range(c):
            g[t] = 0.0
        for q in range(indptr[j], indptr[j + 1]):
            r = indices[q]
            a = float(data[q])
            for t in range(c):
                g[t] += a * G2[r, t]
        _center_soft_blocks(g, bs, be, bsoft, cmask)
        nv = 0.0
        for t in range(c):
            v[t] = W[j, t] + dW[j, t] - g[t] / Lj
            nv += v[t] * v[t]
        nv = math.sqrt(nv)
        thr = reg / Lj
        scale = 1.0 - thr / nv if nv > thr else 0.0
        nd = 0.0
        for t in range(c):
            delta[t] = scale * v[t] - (W[j, t] + dW[j, t])
            nd += delta[t] * delta[t]
        if nd == 0.0:
            continue
        nd = math.sqrt(nd)
        if Lj * nd > viol:
            viol = Lj * nd
        for t in range(c):
            dW[j, t] += delta[t]
        if plain:
            for q in range(indptr[j], indptr[j + 1]):
                r = indices[q]
                f = wn[r] * float(data[q])
                for t in range(c):
                    G2[r, t] += f * delta[t]
        elif one_soft:  # inlined a (diag p - p p^T) delta: the common cross-entropy case
            for q in range(indptr[j], indptr[j + 1]):
                r = indices[q]
                f = a0 * wn[r] * float(data[q])
                dot = 0.0
                for t in range(c):
                    dot += P[r, t] * delta[t]
                for t in range(c):
                    G2[r, t] += f * P[r, t] * (delta[t] - dot)
        else:
            for q in range(indptr[j], indptr[j + 1]):
                r = indices[q]
                f = wn[r] * float(data[q])
                _hess_row(P, r, delta, bs, be, ba, bsoft, hd)
                for t in range(c):
                    G2[r, t] += f * hd[t]
    return viol


@njit(cache=True)
def intercept_step(db, G2, P, wn, bs, be, ba, bsoft, Lb, mask):
    """Coordinate step on the unpenalized intercept block (a column of ones), step ``1/Lb``."""
    n, c = G2.shape
    g = np.zeros(c)
    for r in range(n):
        for t in range(c):
            g[t] += G2[r, t]
    delta = np.zeros(c)
    nd = 0.0
    for t in range(c):
        if mask[t]:
            delta[t] = -g[t] / Lb
            nd += delta[t] * delta[t]
    if nd == 0.0:
        return 0.0
    hd = np.empty(c)
    for t in range(c):
        db[t] += delta[t]
    for r in range(n):
        _hess_row(P, r, delta, bs, be, ba, bsoft, hd)
        for t in range(c):
            G2[r, t] += wn[r] * hd[t]
    return Lb * math.sqrt(nd)


@njit(cache=True)
def gram_cd_epoch(G, W, GradT, regs):
    r"""One pass of block coordinate descent on ``1/2 <W, G W> - <B, W> + sum_j regs_j ||W_j||``.

    ``G`` (k x k, symmetric PSD) is the working-set Gram matrix; ``GradT`` (``c x k``, the transpose
    of ``G W - B``, so that the update below is a contiguous, vectorisable loop) is kept up to date
    (``k c`` operations per atom, no pass over the rows). Atom ``j`` takes the exact block step of
    length ``1/G_jj`` (block soft-thresholding). Returns ``max_j G_jj ||step_j||``.
    """
    k, c = W.shape
    v = np.empty(c)
    delta = np.empty(c)
    viol = 0.0
    for j in range(k):
        Lj = G[j, j]
        if Lj <= 0.0:
            continue
        nv = 0.0
        for t in range(c):
            v[t] = W[j, t] - GradT[t, j] / Lj
            nv += v[t] * v[t]
        nv = math.sqrt(nv)
        thr = regs[j] / Lj
        scale = 1.0 - thr / nv if nv > thr else 0.0
        nd = 0.0
        for t in range(c):
            delta[t] = scale * v[t] - W[j, t]
            nd += delta[t] * delta[t]
        if nd == 0.0:
            continue
        nd = math.sqrt(nd)
        if Lj * nd > viol:
            viol = Lj * nd
        for t in range(c):
            W[j, t] += delta[t]
            dt = delta[t]
            row = GradT[t]
            for i in range(k):
                row[i] += G[j, i] * dt  # G[j, i] = G[i, j]: contiguous row of G
    return viol
