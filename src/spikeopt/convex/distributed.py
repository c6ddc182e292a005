r"""Row-sharded solves across processes (``torch.distributed``: gloo on CPU, NCCL on GPU).

Why: the dictionary is the only large object of a solve (``n x p``; the targets, the predictions
and the dual point are ``n x c`` with ``c`` a handful of outputs), and the solver touches all of it
only in a few full passes per outer iteration (``D^T Theta`` for the certificate and the pricing,
``D W`` for the predictions). Each process therefore holds only its own rows of ``D``:

* :class:`ShardedDesign` presents the *global* ``n x p`` design to the unchanged solver. Its full
  passes compute on the local rows and are summed over processes (``D^T Theta``, squared column
  norms, column sums) or gathered in rank order (``D W``, one block of rows per process);
  ``n``-vectors (``Theta``, weights) are global on every process and each slices its own rows;
* the working-set columns (``k << p`` atoms) are gathered in full on every process, so every
  process runs the *same* small working-set solve on the same numbers and holds the same ``W``;
* the certificate is that of one process: ``n`` is the global row count in the Higham round-off
  bound (a sum over shards is one more float64 summation order, which the bound covers), primal
  and dual are float64 sums over all ``n`` rows, the dual point is feasible for all atoms.

Identical numbers on every process matter: the processes must take the same branches, else they
would wait on different collectives. Sums are all-reduced and then broadcast from the group's
first process (so every process has the same bits whatever the reduction algorithm), and every
``D W`` / column gather first checks that all processes ask for the same atoms and weights; a
mismatch (different numpy/BLAS builds or thread counts on different machines) raises a
``RuntimeError`` on every process instead of hanging.

Row compression (identical ``(D_i, Y_i)`` rows merged into row weights) is done per shard, which is
exact: the objective is ``(1/n) sum_i w_i l_i = (1/m) sum_u w'_u l_u`` with ``m`` the rows left on
all shards together and ``w'_u = (m/n) sum_{i in u} w_i``. Duplicates on different shards stay
separate rows (still exact, just not merged).

Entry points: :func:`solve`, :func:`solve_path` and :func:`reg_max` take *this process's rows*
``D_local, Y_local`` and return the same :class:`.ConvexSolution` on every process. Launch with
``torchrun --nproc_per_node=2 script.py`` (see ``examples/distributed_solve.py``).
"""

from __future__ import annotations

import dataclasses
import zlib
from typing import Any, Sequence

import numpy as np
import torch
import torch.distributed as dist

from . import solver as _solver
from .design import Design
from .problem import _as_array, _unique_rows
from .solution import ConvexSolution

__all__ = ["ShardedDesign", "solve", "solve_path", "reg_max"]

_DTYPES = (np.uint8, np.float32, np.float64)


def _check_initialized(process_group) -> None:
    if not (dist.is_available() and dist.is_initialized()):
        raise RuntimeError(
            "torch.distributed is not initialised: call torch.distributed.init_process_group "
            "(e.g. launch with torchrun) before a sharded solve"
        )
    if process_group is not None and not isinstance(process_group, dist.ProcessGroup):
        raise TypeError(f"process_group must be a torch.distributed ProcessGroup or None, got {type(process_group).__name__}")


class _Comm:
    """The few collectives a sharded solve needs, on numpy arrays, over one process group."""

    def __init__(self, group=None):
        self.group = group
        self.rank = dist.get_rank(group)
        self.world = dist.get_world_size(group)
        self.first = 0 if group is None else dist.get_global_rank(group, 0)  # broadcast source
        backend = str(dist.get_backend(group)).lower()
        self.device = torch.device("cuda", torch.cuda.current_device()) if backend == "nccl" else torch.device("cpu")

    def _tensor(self, x: np.ndarray) -> torch.Tensor:
        return torch.as_tensor(np.ascontiguousarray(x)).to(self.device)

    def sum(self, x: np.ndarray) -> np.ndarray:
        """Elementwise float64 sum over processes; the same bits on every process (broadcast from the first)."""
        t = self._tensor(np.asarray(x, dtype=np.float64))
        dist.all_reduce(t, op=dist.ReduceOp.SUM, group=self.group)
        dist.broadcast(t, src=self.first, group=self.group)
        return t.cpu().numpy()

    def gather(self, x: np.ndarray, counts: Sequence[int] | None = None) -> list[np.ndarray]:
        """Every process's ``x`` (same dtype and trailing shape, any length), in rank order."""
        x = np.ascontiguousarray(x)
        if counts is None:
            counts = self.gather_ints([x.shape[0]])[:, 0]
        counts = [int(c) for c in counts]
        top = max(counts)
        pad = np.zeros((top,) + x.shape[1:], dtype=x.dtype)
        pad[: x.shape[0]] = x
        t = self._tensor(pad)
        parts = [torch.empty_like(t) for _ in range(self.world)]
        dist.all_gather(parts, t, group=self.group)
        return [p.cpu().numpy()[:cnt] for p, cnt in zip(parts, counts)]

    def gather_ints(self, values: Sequence[int]) -> np.ndarray:
        """``world x len(values)`` int64 table of every process's values."""
        t = self._tensor(np.asarray(values, dtype=np.int64))
        parts = [torch.empty_like(t) for _ in range(self.world)]
        dist.all_gather(parts, t, group=self.group)
        return np.stack([p.cpu().numpy() for p in parts])

    def agree(self, fn, *args):
        """Run ``fn`` here; if it raised on any process, raise on every process (no one hangs waiting)."""
        try:
            out, err = fn(*args), None
        except Exception as exc:  # re-raised below, on every process
            out, err = None, exc
        failed = self.gather_ints([err is not None])[:, 0]
        if err is not None:
            raise err
        if failed.any():
            bad = ", ".join(str(r) for r in np.flatnonzero(failed))
            raise RuntimeError(f"the sharded solve failed on process(es) {bad} of the group (see their error)")
        return out

    def check_same(self, what: str, *arrays: np.ndarray) -> None:
        """Raise on every process unless all processes pass bitwise identical arrays."""
        sig = []
        for a in arrays:
            a = np.ascontiguousarray(a)
            sig += [a.size, zlib.crc32(a.view(np.uint8).ravel() if a.size else b"")]
        table = self.gather_ints(sig)
        if not np.all(table == table[0]):
            raise RuntimeError(
                f"the processes of a sharded solve diverged ({what} differ between ranks): every process "
                "must run the same code with the same numpy/BLAS build and thread count"
            )


class ShardedDesign(Design):
    """The global ``n x p`` design of which this process holds rows ``row_range`` (rank order).

    ``local`` is anything :class:`.design.Design` accepts (numpy, scipy sparse, a torch tensor --
    kept on its GPU) or a ``Design``. Every process of ``process_group`` (default: the default
    group) must build its ``ShardedDesign`` at the same point of the program, with the same ``p``.

    :func:`solve` is the usual entry. ``convex.solve(ShardedDesign(D_local), Y_all, ...,
    compress_rows=False)`` also works, with the targets (and weights) of *all* rows on every
    process; row compression needs :func:`solve` (a shard cannot see the other shards' rows).
    """

    def __init__(self, local: Any, process_group=None):
        _check_initialized(process_group)
        comm = _Comm(process_group)
        self.comm = comm

        def build():
            if isinstance(local, ShardedDesign):
                raise TypeError("local is already a ShardedDesign; pass this process's rows")
            d = local if isinstance(local, Design) else Design(local)
            return d, _DTYPES.index(_data_dtype(d))

        self.local, code = comm.agree(build)
        info = comm.gather_ints([self.local.n, self.local.p, int(self.local.sparse), self.local.nnz, code])
        if not np.all(info[:, 1] == info[0, 1]):
            raise ValueError(f"every process must hold the same atoms (columns): p per rank = {info[:, 1].tolist()}")
        self.counts = info[:, 0].astype(np.int64)
        self.offsets = np.concatenate([[0], np.cumsum(self.counts)]).astype(np.int64)
        self.row_range = (int(self.offsets[comm.rank]), int(self.offsets[comm.rank + 1]))
        self.sparse = bool(info[:, 2].all())
        self._data_dtype = np.dtype(np.result_type(*[_DTYPES[c] for c in info[:, 4]]))
        self.n, self.p = int(self.offsets[-1]), int(info[0, 1])
        self.shape = (self.n, self.p)
        self.nnz = int(info[:, 3].sum())
        self.n_passes = 0.0
        self._l2 = None

    def _mine(self, v: np.ndarray) -> np.ndarray:
        if v.shape[0] != self.n:
            raise ValueError(f"expected {self.n} rows (all processes together), got {v.shape[0]}")
        lo, hi = self.row_range
        return v[lo:hi]

    # ------------------------------------------------------------------ checks and row access
    def is_binary(self) -> bool:
        return bool(self.comm.sum(np.array([float(not self.local.is_binary())]))[0] == 0.0)

    def packed_rows(self) -> np.ndarray:
        raise NotImplementedError(
            "a ShardedDesign holds only this process's rows; rows are compressed per shard by "
            "spikeopt.convex.distributed.solve (or pass compress_rows=False to convex.solve)"
        )

    def take_rows(self, rows: np.ndarray) -> Design:
        raise NotImplementedError(
            "a ShardedDesign cannot select global rows; compress or subset the local rows before sharding"
        )

    # ------------------------------------------------------------------ products
    def tdot(self, Theta: np.ndarray) -> np.ndarray:
        """``D^T Theta`` over all processes' rows (float64 partial sums, summed over processes). One pass."""
        Theta = np.asarray(Theta, dtype=np.float64)
        self.n_passes += 1.0
        return self.comm.sum(self.local.tdot(self._mine(Theta)))

    def sq_tdot(self, v: np.ndarray) -> np.ndarray:
        return self.comm.sum(self.local.sq_tdot(self._mine(np.asarray(v, dtype=np.float64))))

    def tdot_vec(self, v: np.ndarray) -> np.ndarray:
        return self.comm.sum(self.local.tdot_vec(self._mine(np.asarray(v, dtype=np.float64))))

    def dot(self, idx: np.ndarray, W: np.ndarray) -> np.ndarray:
        """``D[:, idx] @ W`` (``n x c``): local rows, gathered in rank order. Counts ``len(idx) / p``."""
        idx = np.asarray(idx, dtype=np.int64)
        W = np.ascontiguousarray(W, dtype=np.float64)
        self.comm.check_same("the active atoms or their weights", idx, W)
        if idx.size == 0:
            return np.zeros((self.n, W.shape[1]))
        self.n_passes += idx.size / self.p
        return np.concatenate(self.comm.gather(self.local.dot(idx, W), self.counts))

    def columns(self, idx: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """CSC of ``D[:, idx]`` over all rows: every process's column pieces gathered and merged in row order."""
        idx = np.asarray(idx, dtype=np.int64)
        self.comm.check_same("the working-set atoms", idx)
        k = idx.size
        indptr, indices, data = self.local.columns(idx)
        ptrs = self.comm.gather(indptr, [k + 1] * self.comm.world)
        inds = self.comm.gather(indices.astype(np.int32))
        vals = self.comm.gather(np.ascontiguousarray(data, dtype=self._data_dtype))
        col = np.concatenate([np.repeat(np.arange(k), np.diff(p)) for p in ptrs])
        rows = np.concatenate([ind.astype(np.int64) + off for ind, off in zip(inds, self.offsets[:-1])])
        order = np.argsort(col, kind="stable")  # by atom; within an atom rank order = row order
        counts = sum(np.diff(p) for p in ptrs)
        out_ptr = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        return out_ptr, rows[order].astype(np.int32), np.concatenate(vals)[order]


def _data_dtype(d: Design) -> np.dtype:
    """The dtype of ``d.columns(...)[2]`` (the compact storage type)."""
    return np.dtype(d.columns(np.zeros(1, dtype=np.int64))[2].dtype)


# ============================================================================ entry points
@dataclasses.dataclass
class _Shards:
    design: ShardedDesign
    Y: np.ndarray  # targets of the (per-shard compressed) rows of all processes
    weights: np.ndarray  # their row weights w'
    row_of: np.ndarray  # for every row as given (all processes, rank order): its compressed row
    ratio: np.ndarray  # w_i / sum of w over its compressed row (1 when not merged; 0 for w = 0 groups)


def _local_rows(D_local, Y_local, sample_weight, compress_rows: bool):
    d = D_local if isinstance(D_local, Design) else Design(D_local)
    if isinstance(d, ShardedDesign):
        raise TypeError("D_local must hold this process's rows, not a ShardedDesign")
    Y = _as_array(Y_local)
    if Y.ndim == 0 or Y.shape[0] != d.n:
        raise ValueError(f"Y_local must have {d.n} rows (one per row of D_local), got shape {Y.shape}")
    if Y.dtype == object or not (np.issubdtype(Y.dtype, np.number) or Y.dtype == bool):
        raise TypeError(f"Y_local must be numeric, got dtype {Y.dtype}")
    if sample_weight is None:
        w = np.ones(d.n)
    else:
        w = np.asarray(_as_array(sample_weight), dtype=np.float64)
        if w.shape != (d.n,):
            raise ValueError(f"sample_weight must have shape ({d.n},) (one per local row), got {w.shape}")
        if not np.all(np.isfinite(w)) or np.any(w < 0):
            raise ValueError("sample_weight must be finite and >= 0")
    inverse = np.arange(d.n)
    sums = w
    if compress_rows:
        groups = _unique_rows(d, Y.reshape(d.n, -1))
        if groups is not None and groups[0].size <= 0.8 * d.n:
            first, inverse = groups
            d, Y = d.take_rows(first), Y[first]
            sums = np.bincount(inverse, weights=w, minlength=first.size)
    return d, Y, w, sums, inverse


def _shard(D_local, Y_local, sample_weight, compress_rows: bool, process_group) -> _Shards:
    _check_initialized(process_group)
    comm = _Comm(process_group)
    d, Y, w, sums, inverse = comm.agree(_local_rows, D_local, Y_local, sample_weight, compress_rows)
    design = ShardedDesign(d, process_group)
    shape = comm.gather_ints([Y.ndim, Y.shape[1] if Y.ndim > 1 else 1, int(np.issubdtype(Y.dtype, np.integer) or Y.dtype == bool)])
    if not np.all(shape[:, :2] == shape[0, :2]):
        raise ValueError(f"Y_local must have the same trailing shape on every process, got (ndim, columns) {shape[:, :2].tolist()}")
    Yg = np.concatenate(comm.gather(np.asarray(Y, dtype=np.float64), design.counts))
    if shape[:, 2].all():
        Yg = Yg.astype(np.int64)
    n_given = comm.gather_ints([w.size])[:, 0]
    n, m = int(n_given.sum()), design.n
    weights = np.concatenate(comm.gather(sums, design.counts)) * (m / n)
    row_of = np.concatenate([inv + off for inv, off in zip(comm.gather(inverse.astype(np.int64), n_given), design.offsets[:-1])])
    sums_g = np.concatenate(comm.gather(sums, design.counts))
    w_g = np.concatenate(comm.gather(w, n_given))
    group_sum = sums_g[row_of]
    ratio = np.divide(w_g, group_sum, out=np.zeros_like(w_g), where=group_sum > 0)
    return _Shards(design, Yg, weights, row_of, ratio)


def _rows_as_given(sol: ConvexSolution, shards: _Shards) -> ConvexSolution:
    """The solution with its dual point over the rows as given (all processes, rank order).

    ``Theta_i = (w_i / n) R_u`` for a given row ``i`` merged into row ``u``; with
    ``Theta_u = (w'_u / m) R_u`` and ``w'_u / m = (sum_{i in u} w_i) / n`` that is
    ``Theta_u * w_i / sum_{i in u} w_i`` -- exactly ``Theta_u`` when nothing was merged.
    """
    if sol.dual_point is None:
        return sol
    theta = sol.dual_point[shards.row_of] * shards.ratio[:, None]
    return dataclasses.replace(sol, dual_point=theta)


def shard_inputs(D_local, Y_local, sample_weight, compress_rows: bool, process_group):
    """The global problem of ``process_group`` from this process's rows, for :func:`.solver.solve`.

    Returns ``(design, Y, sample_weight, finish)``: a :class:`ShardedDesign`, the gathered targets
    and (merged) row weights, and ``finish(solution)`` that maps the dual point back to the rows as
    given. Row compression is done here, per shard; the solver must not compress again.
    """
    shards = _shard(D_local, Y_local, sample_weight, compress_rows, process_group)
    return shards.design, shards.Y, shards.weights, (lambda sol: _rows_as_given(sol, shards))


def _world(process_group):
    """``None`` (the default group) as the group object :func:`.solver.solve` expects."""
    _check_initialized(process_group)
    return dist.group.WORLD if process_group is None else process_group


def solve(D_local, Y_local, reg: float, loss: str | Sequence[Any] = "squared", *, process_group=None,
          **options) -> ConvexSolution:
    """:func:`spikeopt.convex.solve` over the rows of all processes of ``process_group`` (default: all).

    Call it on every process with that process's rows (``D_local`` ``n_r x p``, ``Y_local``,
    ``sample_weight`` of ``n_r`` rows; ``p`` the same everywhere). The problem solved is the one on
    all rows stacked in rank order, with the mean over all ``n`` rows. Every process returns the
    same solution and certificate; ``dual_point`` covers all ``n`` rows in rank order. ``verbose``
    prints on the group's first process only. The other keyword arguments are those of
    :func:`spikeopt.convex.solve`, which does the same with ``process_group=`` a group object.
    """
    return _solver.solve(D_local, Y_local, reg, loss, process_group=_world(process_group), **options)


def solve_path(D_local, Y_local, regs: Sequence[float], loss: str | Sequence[Any] = "squared", *,
               process_group=None, **options) -> list[ConvexSolution]:
    """:func:`spikeopt.convex.solve_path` over the rows of all processes (see :func:`solve`)."""
    return _solver.solve_path(D_local, Y_local, regs, loss, process_group=_world(process_group), **options)


def reg_max(D_local, Y_local, loss: str | Sequence[Any] = "squared", *, process_group=None, **options) -> float:
    """:func:`spikeopt.convex.solver.reg_max` over the rows of all processes (the same on every process)."""
    return _solver.reg_max(D_local, Y_local, loss, process_group=_world(process_group), **options)
