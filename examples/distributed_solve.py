"""A row-sharded certified solve: every process holds only its rows of the dictionary.

Launch (2 processes on this machine, gloo on CPU)::

    torchrun --standalone --nproc_per_node=2 examples/distributed_solve.py --check

``--check`` makes the first process also solve the whole problem alone and compare (exit code 1 if
primal or dual differ by more than 1e-9 relative). With ``--device cuda`` every process keeps its
shard on its GPU (``LOCAL_RANK``) and the processes talk over NCCL. Several machines: the usual
``torchrun --nnodes=N --node_rank=i --rdzv_endpoint=HOST:PORT ...``. Run without torchrun it solves
in one process.

The problem is a synthetic binary spike dictionary (``--rows x --atoms``, rows made in fixed
256-row chunks from ``(seed, chunk)``, so the global problem does not depend on the number of
processes) with labels from a planted sparse readout. Prints one JSON line on the first process.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import tempfile
import time
import warnings

import numpy as np
import torch
import torch.distributed as dist

from spikeopt.convex import distributed, solve

_CHUNK = 256


def make_rows(lo: int, hi: int, atoms: int, classes: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """Rows ``lo:hi`` of the global problem: ``(D uint8, labels)``; the same rows whoever makes them."""
    W = np.random.default_rng([seed, 1 << 30]).standard_normal((atoms, classes))
    W[np.random.default_rng([seed, 1 << 31]).random(atoms) > 0.05] = 0.0  # 5% of the atoms matter
    D_out, y_out = np.empty((hi - lo, atoms), dtype=np.uint8), np.empty(hi - lo, dtype=np.int64)
    for chunk in range(lo // _CHUNK, (hi - 1) // _CHUNK + 1):
        rng = np.random.default_rng([seed, chunk])
        D = (rng.random((_CHUNK, atoms)) < 0.2).astype(np.uint8)
        y = np.argmax(D @ W + 0.5 * rng.standard_normal((_CHUNK, classes)), axis=1)
        a, b = max(lo, chunk * _CHUNK), min(hi, (chunk + 1) * _CHUNK)  # global rows of this chunk kept here
        D_out[a - lo:b - lo] = D[a - chunk * _CHUNK:b - chunk * _CHUNK]
        y_out[a - lo:b - lo] = y[a - chunk * _CHUNK:b - chunk * _CHUNK]
    return D_out, y_out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=4000)
    ap.add_argument("--atoms", type=int, default=600)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--reg", type=float, default=2e-3)
    ap.add_argument("--tol", type=float, default=1e-8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--device", choices=["cpu", "cuda"], default="cpu")
    ap.add_argument("--check", action="store_true", help="also solve in one process and compare")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    if args.device == "cuda":
        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", 0)))
    backend = "nccl" if args.device == "cuda" else "gloo"
    if "RANK" in os.environ:  # under torchrun
        dist.init_process_group(backend)
    else:  # a group of one
        init = os.path.join(tempfile.mkdtemp(), "init")
        dist.init_process_group(backend, init_method=f"file://{init}", rank=0, world_size=1)
    try:
        rank, world = dist.get_rank(), dist.get_world_size()
        bounds = np.linspace(0, args.rows, world + 1).astype(int)
        D, y = make_rows(bounds[rank], bounds[rank + 1], args.atoms, args.classes, args.seed)
        shard = torch.from_numpy(D).to(args.device) if args.device == "cuda" else D
        t0, c0 = time.perf_counter(), time.process_time()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sol = distributed.solve(shard, y, args.reg, "cross_entropy", intercept=True, tol=args.tol, classes=args.classes)
        out = {
            "processes": world, "rows": args.rows, "atoms": args.atoms, "rows_here": int(D.shape[0]),
            "reg": args.reg, "primal": sol.primal, "dual": sol.dual, "gap": sol.gap, "converged": sol.converged,
            "active": int(sol.active.size), "n_passes": round(sol.n_passes, 1),
            "wall_s": round(time.perf_counter() - t0, 3), "cpu_s_rank0": round(time.process_time() - c0, 3),
        }
        mem = [None] * world  # per process: dictionary MiB held, peak resident MiB (Linux ru_maxrss is KiB)
        dist.all_gather_object(mem, (D.nbytes / 2**20, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))
        out["dict_mib"] = [round(m[0], 1) for m in mem]
        out["peak_rss_mib"] = [round(m[1], 1) for m in mem]
        ok = sol.converged
        if args.check and rank == 0:
            Dall, yall = make_rows(0, args.rows, args.atoms, args.classes, args.seed)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                one = solve(Dall, yall, args.reg, "cross_entropy", intercept=True, tol=args.tol, classes=args.classes)
            rel = {k: abs(getattr(sol, k) - getattr(one, k)) / abs(getattr(one, k)) for k in ("primal", "dual")}
            out["one_process"] = {"primal": one.primal, "dual": one.dual, "gap": one.gap, "rel_diff": rel}
            ok = ok and max(rel.values()) <= 1e-9
        if rank == 0:
            print(json.dumps(out), flush=True)
        return 0 if ok else 1
    finally:
        dist.destroy_process_group()


if __name__ == "__main__":
    sys.exit(main())
