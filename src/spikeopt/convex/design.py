r"""The design matrix in its compact form, and the only products the solver takes with it.

Why: a spike dictionary arrives as 0/1 ``uint8`` (or ``float32`` rate atoms); a float64 copy would
be 8x (4x) its size -- 9.6 GB for 60,000 x 20,000 atoms. :class:`Design` keeps the array as given
and converts one row block at a time to float64 inside every product, so each product is exact
up to float64 summation (``uint8`` and ``float32`` entries are exact in float64) while the extra
memory is one block (``_BLOCK_ELEMS`` entries, 64 MB).

It also counts *passes*: one full product ``D^T Theta`` is one pass; a product with ``k`` of the
``p`` columns counts ``k / p`` (dense) or ``nnz(columns) / nnz(D)`` (sparse / coordinate work),
so the benchmark can report the cost of a solve in full-dictionary passes.

Round-off of ``D^T Theta`` (needed for an honest dual feasibility test): any float64 summation
order gives ``|fl(d_j^T theta) - d_j^T theta| <= gamma_n |d_j|^T |theta|`` with
``gamma_n = n u / (1 - n u)``, ``u = 2^-53`` (Higham, Thm 3.1); by Cauchy-Schwarz per output
column and summing the squares, the error of the row ``D_j^T Theta`` in 2-norm is at most
``gamma_n ||d_j||_2 ||Theta||_F``. :meth:`Design.tdot_error` returns that bound per atom.
"""

from __future__ import annotations

import sys
from typing import Any

import numpy as np
import scipy.sparse as sp

from spikeopt.convex import kernels

_BLOCK_ELEMS = 1 << 23  # float64 entries converted at a time (64 MB)
_TDOT_COLUMNS = 4096  # columns per block of the compiled uint8 product (a 10-output accumulator: 320 KB)
_COL_BLOCK = 256  # columns gathered at a time when building CSC working-set columns
_U = 2.0**-53


def _torch_to_numpy(D: Any):
    try:
        import torch
    except ImportError:  # pragma: no cover
        return D
    if not isinstance(D, torch.Tensor):
        return D
    D = D.detach()
    if D.is_sparse:
        D = D.to_dense()
    D = D.cpu()
    if D.dtype == torch.bool:
        D = D.to(torch.uint8)
    elif D.dtype in (torch.float16, torch.bfloat16):
        D = D.to(torch.float32)
    return D.numpy()


def _compact_dense(D: np.ndarray) -> np.ndarray:
    """Keep uint8 / float32 / float64 as they are; bool and small nonnegative integers -> uint8."""
    if D.dtype == object or not (np.issubdtype(D.dtype, np.number) or D.dtype == bool):
        raise TypeError(f"D must be a numeric array, got dtype {D.dtype}")
    if D.dtype == bool:
        return np.ascontiguousarray(D).view(np.uint8)
    if np.issubdtype(D.dtype, np.integer):
        if D.dtype != np.uint8 and D.size and (D.min() < 0 or D.max() > 255):
            return np.ascontiguousarray(D, dtype=np.float64)
        return np.ascontiguousarray(D, dtype=np.uint8)
    if D.dtype in (np.float32, np.float64):
        return np.ascontiguousarray(D)
    if D.dtype == np.float16:
        return np.ascontiguousarray(D, dtype=np.float32)
    if np.issubdtype(D.dtype, np.complexfloating):
        raise TypeError("D must be real, got a complex array")
    return np.ascontiguousarray(D, dtype=np.float64)


def _on_accelerator(D: Any) -> bool:
    """A torch tensor on a device other than the CPU (kept there by :class:`.torch_design.TorchDesign`)."""
    torch = sys.modules.get("torch")  # a tensor implies torch is imported; never import it here
    return torch is not None and isinstance(D, torch.Tensor) and D.device.type != "cpu"


class Design:
    """A validated ``n x p`` design: dense compact numpy array or float64 CSC sparse matrix.

    A torch tensor on an accelerator (CUDA) is not moved: ``Design(D)`` then returns a
    :class:`.torch_design.TorchDesign`, whose full passes run on that device.
    """

    def __new__(cls, D: Any = None, *args, **kwargs):
        if cls is Design and _on_accelerator(D):
            from .torch_design import TorchDesign

            return super().__new__(TorchDesign)
        return super().__new__(cls)

    def __init__(self, D: Any):
        D = _torch_to_numpy(D)
        if sp.issparse(D):
            if D.ndim != 2:
                raise ValueError(f"D must be 2-D, got {D.ndim}-D")
            D = sp.csc_matrix(D, dtype=np.float64)
            D.sum_duplicates()
            if D.shape[0] == 0 or D.shape[1] == 0:
                raise ValueError(f"D is empty (shape {D.shape})")
            if not np.all(np.isfinite(D.data)):
                raise ValueError("D contains NaN or inf")
            if D.nnz > 0.25 * D.shape[0] * D.shape[1]:
                D = D.toarray()
        else:
            D = _compact_dense(np.asarray(D))
            if D.ndim != 2:
                raise ValueError(f"D must be 2-D (n x p), got shape {D.shape}")
            if D.shape[0] == 0 or D.shape[1] == 0:
                raise ValueError(f"D is empty (shape {D.shape})")
        self.A = D
        self.sparse = sp.issparse(D)
        self.shape = D.shape
        self.n, self.p = D.shape
        self.n_passes = 0.0
        if not self.sparse and D.dtype != np.uint8:
            for r0, r1 in self._blocks():
                if not np.all(np.isfinite(D[r0:r1])):
                    raise ValueError("D contains NaN or inf")
        self.nnz = int(D.nnz) if self.sparse else self.n * self.p
        self._l2 = None

    # ------------------------------------------------------------------ helpers
    def _blocks(self):
        step = max(1, _BLOCK_ELEMS // max(self.p, 1))
        for r0 in range(0, self.n, step):
            yield r0, min(self.n, r0 + step)

    def is_binary(self) -> bool:
        """All entries 0 or 1 (uint8 designs from the dictionary builder: checked by blocks)."""
        if self.sparse:
            return bool(np.all(self.A.data == 1.0))
        return all(bool(np.all(self.A[r0:r1] <= 1)) and bool(np.all(self.A[r0:r1] >= 0)) and
                   (self.A.dtype == np.uint8 or bool(np.all(self.A[r0:r1] == np.round(self.A[r0:r1]))))
                   for r0, r1 in self._blocks())

    def packed_rows(self) -> np.ndarray:
        """Bit-packed rows of a binary design (``n x ceil(p/8)`` uint8), block by block."""
        if self.sparse:
            return np.packbits(self.A.toarray() != 0, axis=1)
        return np.concatenate([np.packbits(self.A[r0:r1] != 0, axis=1) for r0, r1 in self._blocks()])

    def take_rows(self, rows: np.ndarray) -> "Design":
        out = Design.__new__(Design)
        out.A = self.A[rows] if not self.sparse else sp.csc_matrix(self.A[rows])
        out.sparse, out.shape = self.sparse, out.A.shape
        out.n, out.p = out.A.shape
        out.n_passes, out.nnz, out._l2 = 0.0, int(out.A.nnz) if self.sparse else out.n * out.p, None
        return out

    # ------------------------------------------------------------------ products
    def tdot(self, Theta: np.ndarray) -> np.ndarray:
        """``D^T Theta`` (``p x c``) in float64, one row block of ``D`` at a time. Counts one pass."""
        Theta = np.asarray(Theta, dtype=np.float64)
        self.n_passes += 1.0
        if self.sparse:
            return np.asarray(self.A.T @ Theta)
        if self._compiled_tdot():
            return self._uint8_tdot(Theta, square=False)
        out = np.zeros((self.p, Theta.shape[1]))
        for r0, r1 in self._blocks():
            out += self.A[r0:r1].astype(np.float64).T @ Theta[r0:r1]
        return out

    def _compiled_tdot(self) -> bool:
        """Dense uint8 designs take the compiled product (in place); the float ones go to BLAS as they are."""
        return not self.sparse and self.A.dtype == np.uint8 and kernels.HAVE_NUMBA

    def _uint8_tdot(self, Theta: np.ndarray, square: bool) -> np.ndarray:
        outT = np.zeros((Theta.shape[1], self.p))
        kernels.dense_tdot(self.A, np.ascontiguousarray(Theta, dtype=np.float64), outT, _TDOT_COLUMNS, square)
        return outT.T

    def tdot_error(self, Theta: np.ndarray) -> np.ndarray:
        """Per-atom bound on the 2-norm round-off of :meth:`tdot`: ``gamma_n ||d_j|| ||Theta||_F``."""
        nu = self.n * _U
        gamma = nu / (1.0 - nu)
        return gamma * self.l2_norms() * float(np.sqrt(np.sum(np.square(Theta))))

    def sq_tdot(self, v: np.ndarray) -> np.ndarray:
        """``sum_i D_ij^2 v_i`` for every column (weighted squared column norms)."""
        if self.sparse:
            return np.asarray(self.A.multiply(self.A).T @ v).ravel()
        if self._compiled_tdot():
            return self._uint8_tdot(np.asarray(v, dtype=np.float64)[:, None], square=True)[:, 0]
        out = np.zeros(self.p)
        for r0, r1 in self._blocks():
            B = self.A[r0:r1].astype(np.float64)
            out += (B * B).T @ v[r0:r1]
        return out

    def l2_norms(self) -> np.ndarray:
        if self._l2 is None:
            self._l2 = np.sqrt(self.sq_tdot(np.ones(self.n)))
        return self._l2

    def tdot_vec(self, v: np.ndarray) -> np.ndarray:
        """``D^T v`` for a vector (column means etc.); not counted as a pass (one-off setup)."""
        if self.sparse:
            return np.asarray(self.A.T @ v).ravel()
        if self._compiled_tdot():
            return self._uint8_tdot(np.asarray(v, dtype=np.float64)[:, None], square=False)[:, 0]
        out = np.zeros(self.p)
        for r0, r1 in self._blocks():
            out += self.A[r0:r1].astype(np.float64).T @ v[r0:r1]
        return out

    def dot(self, idx: np.ndarray, W: np.ndarray) -> np.ndarray:
        """``D[:, idx] @ W`` (``n x c``, float64); counts ``len(idx) / p`` of a pass."""
        idx = np.asarray(idx, dtype=np.int64)
        c = W.shape[1]
        if idx.size == 0:
            return np.zeros((self.n, c))
        self.n_passes += idx.size / self.p
        if self.sparse:
            return np.asarray(self.A[:, idx] @ W)
        out = np.empty((self.n, c))
        step = max(1, _BLOCK_ELEMS // max(idx.size, 1))
        for r0 in range(0, self.n, step):
            r1 = min(self.n, r0 + step)
            out[r0:r1] = self.A[r0:r1, idx].astype(np.float64) @ W
        return out

    def columns(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CSC ``(indptr, indices, data)`` of ``D[:, idx]``; ``data`` keeps the compact dtype."""
        idx = np.asarray(idx, dtype=np.int64)
        if self.sparse:
            S = self.A[:, idx]
            S.sort_indices()
            return S.indptr.astype(np.int64), S.indices.astype(np.int32), S.data
        counts, inds, vals = [np.zeros(1, dtype=np.int64)], [], []
        for c0 in range(0, idx.size, _COL_BLOCK):
            blk = idx[c0:c0 + _COL_BLOCK]
            T = np.ascontiguousarray(self.A[:, blk].T)
            jj, ii = np.nonzero(T)
            counts.append(np.bincount(jj, minlength=blk.size).astype(np.int64))
            inds.append(ii.astype(np.int32))
            vals.append(T[jj, ii])
        indptr = np.cumsum(np.concatenate(counts))
        indices = np.concatenate(inds) if inds else np.zeros(0, dtype=np.int32)
        data = np.concatenate(vals) if vals else np.zeros(0, dtype=self.A.dtype)
        return indptr, indices, data
