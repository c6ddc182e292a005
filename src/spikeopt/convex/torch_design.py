r"""The design kept as a torch tensor on its own device (a GPU), full passes as torch matmuls there.

Why: a 60,000 x 20,000 uint8 dictionary built on a GPU is 1.2 GB there; copying it to the host for
every solve (what :class:`.design.Design` does with a tensor) costs more than the solve's few full
passes, and those passes are exactly what a GPU does fastest. :class:`TorchDesign` leaves the
tensor where it is, in its compact dtype (uint8 / float32 / float64), and converts one row block at
a time to float64 *on the device* inside every product, so the products are float64 sums of exact
terms, as on the host: the round-off bound of :meth:`.design.Design.tdot_error` (Higham, any
summation order, fused multiply-adds included) holds unchanged and the certificate stays honest.
Only small results come back to the host: ``p x c`` (``D^T Theta``), ``n x c`` (``D W``) and the
working-set columns in CSC form, which the CPU working-set solver then uses as usual.

The same code runs on CPU tensors (``TorchDesign(tensor)`` or ``TorchDesign(array, device="cpu")``);
that is how it is tested here. A tensor on a non-CPU device given to :class:`.design.Design` (so to
``convex.solve``) becomes a :class:`TorchDesign` automatically.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from . import design as _design
from .design import Design

_PACK_WEIGHTS = (128, 64, 32, 16, 8, 4, 2, 1)  # np.packbits bit order (big-endian within a byte)


def _compact_tensor(D: torch.Tensor) -> torch.Tensor:
    """Keep uint8 / float32 / float64; bool and small nonnegative integers -> uint8, halves -> float32."""
    if D.is_complex():
        raise TypeError("D must be real, got a complex tensor")
    if D.dtype == torch.bool:
        return D.to(torch.uint8)
    if D.dtype in (torch.float16, torch.bfloat16):
        return D.to(torch.float32)
    if D.dtype in (torch.uint8, torch.float32, torch.float64):
        return D
    if not D.is_floating_point():  # other integer types
        if D.numel() and (int(D.min()) < 0 or int(D.max()) > 255):
            return D.to(torch.float64)
        return D.to(torch.uint8)
    return D.to(torch.float64)


class TorchDesign(Design):
    """A dense ``n x p`` design held as a torch tensor on ``device``; products accumulate in float64 there."""

    def __init__(self, D: Any, device: str | torch.device | None = None):
        if isinstance(D, Design):
            raise TypeError("D is already a Design; pass the tensor or array it was built from")
        if not isinstance(D, torch.Tensor):
            D = torch.as_tensor(np.asarray(D))
        D = D.detach()
        if device is not None:
            D = D.to(device)
        if D.layout != torch.strided:
            D = D.to_dense()
        if D.ndim != 2:
            raise ValueError(f"D must be 2-D (n x p), got shape {tuple(D.shape)}")
        if D.shape[0] == 0 or D.shape[1] == 0:
            raise ValueError(f"D is empty (shape {tuple(D.shape)})")
        self.A = _compact_tensor(D).contiguous()
        self.device = self.A.device
        self.sparse = False
        self.shape = (int(D.shape[0]), int(D.shape[1]))
        self.n, self.p = self.shape
        self.n_passes = 0.0
        self.nnz = self.n * self.p
        self._l2 = None
        if self.A.dtype != torch.uint8:
            for r0, r1 in self._blocks():
                if not bool(torch.isfinite(self.A[r0:r1]).all()):
                    raise ValueError("D contains NaN or inf")

    # ------------------------------------------------------------------ helpers
    def _to_device(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(x, dtype=np.float64), device=self.device)

    def _block64(self, r0: int, r1: int) -> torch.Tensor:
        return self.A[r0:r1].to(torch.float64)

    def is_binary(self) -> bool:
        for r0, r1 in self._blocks():
            B = self.A[r0:r1]
            if not bool(((B == 0) | (B == 1)).all()):
                return False
        return True

    def packed_rows(self) -> np.ndarray:
        """Bit-packed rows (``n x ceil(p/8)`` uint8, ``np.packbits`` layout), packed on the device."""
        pad = (-self.p) % 8
        weights = torch.tensor(_PACK_WEIGHTS, dtype=torch.int32, device=self.device)
        out = []
        for r0, r1 in self._blocks():
            B = (self.A[r0:r1] != 0).to(torch.int32)
            if pad:
                B = torch.nn.functional.pad(B, (0, pad))
            out.append((B.view(r1 - r0, -1, 8) * weights).sum(dim=2).to(torch.uint8).cpu().numpy())
        return np.concatenate(out)

    def take_rows(self, rows: np.ndarray) -> "TorchDesign":
        out = TorchDesign.__new__(TorchDesign)
        idx = torch.as_tensor(np.asarray(rows, dtype=np.int64), device=self.device)
        out.A = torch.index_select(self.A, 0, idx).contiguous()
        out.device, out.sparse = self.device, False
        out.shape = (int(out.A.shape[0]), self.p)
        out.n, out.p = out.shape
        out.n_passes, out.nnz, out._l2 = 0.0, out.n * out.p, None
        return out

    # ------------------------------------------------------------------ products
    def tdot(self, Theta: np.ndarray) -> np.ndarray:
        """``D^T Theta`` (``p x c``) in float64 on the device, one row block at a time. Counts one pass."""
        T = self._to_device(Theta)
        self.n_passes += 1.0
        out = torch.zeros((self.p, T.shape[1]), dtype=torch.float64, device=self.device)
        for r0, r1 in self._blocks():
            out.addmm_(self._block64(r0, r1).T, T[r0:r1])
        return out.cpu().numpy()

    def sq_tdot(self, v: np.ndarray) -> np.ndarray:
        t = self._to_device(v)
        out = torch.zeros(self.p, dtype=torch.float64, device=self.device)
        for r0, r1 in self._blocks():
            B = self._block64(r0, r1)
            out.addmv_((B * B).T, t[r0:r1])  # not in place: a float64 block is a view of D
        return out.cpu().numpy()

    def tdot_vec(self, v: np.ndarray) -> np.ndarray:
        t = self._to_device(v)
        out = torch.zeros(self.p, dtype=torch.float64, device=self.device)
        for r0, r1 in self._blocks():
            out.addmv_(self._block64(r0, r1).T, t[r0:r1])
        return out.cpu().numpy()

    def dot(self, idx: np.ndarray, W: np.ndarray) -> np.ndarray:
        """``D[:, idx] @ W`` (``n x c``, float64, computed on the device); counts ``len(idx) / p`` of a pass."""
        idx = np.asarray(idx, dtype=np.int64)
        c = W.shape[1]
        if idx.size == 0:
            return np.zeros((self.n, c))
        self.n_passes += idx.size / self.p
        cols = torch.as_tensor(idx, device=self.device)
        Wt = self._to_device(W)
        out = torch.empty((self.n, c), dtype=torch.float64, device=self.device)
        step = max(1, _design._BLOCK_ELEMS // max(idx.size, 1))
        for r0 in range(0, self.n, step):
            r1 = min(self.n, r0 + step)
            torch.matmul(torch.index_select(self.A[r0:r1], 1, cols).to(torch.float64), Wt, out=out[r0:r1])
        return out.cpu().numpy()

    def columns(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CSC ``(indptr, indices, data)`` of ``D[:, idx]`` on the host; ``data`` keeps the compact dtype."""
        idx = np.asarray(idx, dtype=np.int64)
        counts, inds, vals = [np.zeros(1, dtype=np.int64)], [], []
        for c0 in range(0, idx.size, _design._COL_BLOCK):
            blk = torch.as_tensor(idx[c0:c0 + _design._COL_BLOCK], device=self.device)
            T = torch.index_select(self.A, 1, blk).T.contiguous()
            jj, ii = torch.nonzero(T, as_tuple=True)  # row-major order: by column of D, then by row
            counts.append(torch.bincount(jj, minlength=blk.numel()).cpu().numpy().astype(np.int64))
            inds.append(ii.cpu().numpy().astype(np.int32))
            vals.append(T[jj, ii].cpu().numpy())
        indptr = np.cumsum(np.concatenate(counts))
        indices = np.concatenate(inds) if inds else np.zeros(0, dtype=np.int32)
        dtype = {torch.uint8: np.uint8, torch.float32: np.float32}.get(self.A.dtype, np.float64)
        data = np.concatenate(vals) if vals else np.zeros(0, dtype=dtype)
        return indptr, indices, data
