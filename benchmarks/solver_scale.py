"""Scale run: a large random binary dictionary, 10-class cross-entropy, an 8-point reg path.

    python benchmarks/solver_scale.py                          # 60,000 x 20,000 (the issue's target)
    python benchmarks/solver_scale.py --rows 20000 --atoms 5000
    python benchmarks/solver_scale.py --device cuda            # the dictionary on a GPU

Atoms are random 0/1 columns with per-atom firing rates uniform in [5%, 50%] (uint8, generated one
row block at a time so no float copy ever exists); labels come from a planted sparse model (40 atoms,
10 classes) plus label noise. The path is ``reg_max * geomspace(0.5, 0.02, 8)``; every point must be
certified (gap <= 1e-6). Run it in a fresh process: the peak RSS it prints (``ru_maxrss``) is the
whole process's, data generation included. One thread.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse
import json
import resource
import sys
import time
from pathlib import Path

import numpy as np

from _meta import run_meta  # noqa: E402

HERE = Path(__file__).resolve().parent


def make_problem(n: int, p: int, classes: int, seed: int):
    rng = np.random.default_rng(seed)
    rates = rng.uniform(0.05, 0.5, p)
    D = np.empty((n, p), dtype=np.uint8)
    step = max(1, (1 << 22) // p)
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        D[r0:r1] = rng.random((r1 - r0, p), dtype=np.float32) < rates[None, :].astype(np.float32)
    planted = rng.choice(p, 40, replace=False)
    Wt = rng.standard_normal((40, classes)) * 1.5
    logits = np.zeros((n, classes))
    for r0 in range(0, n, step):
        r1 = min(n, r0 + step)
        logits[r0:r1] = D[r0:r1][:, planted].astype(np.float64) @ Wt
    logits += rng.gumbel(size=logits.shape)
    return D, logits.argmax(axis=1)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rows", type=int, default=60_000)
    ap.add_argument("--atoms", type=int, default=20_000)
    ap.add_argument("--classes", type=int, default=10)
    ap.add_argument("--points", type=int, default=8)
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--device", default=None,
                    help="keep the dictionary as a torch tensor on this device (cpu, cuda): full passes run "
                         "there as torch matmuls (convex/torch_design.py); default: a numpy array")
    ap.add_argument("--out", default=str(HERE / "results" / "solver_scale.json"))
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from spikeopt.convex.solver import reg_max, solve_path

    t0 = time.perf_counter()
    D, y = make_problem(args.rows, args.atoms, args.classes, seed=0)
    gen_s = time.perf_counter() - t0
    nbytes = D.nbytes
    gpu = None
    if args.device is not None:
        D = torch.from_numpy(D).to(args.device)
        if D.is_cuda:
            gpu = torch.cuda.get_device_name(D.device)
            torch.cuda.synchronize()
    rmax = reg_max(D, y, "cross_entropy")
    regs = list(rmax * np.geomspace(0.5, 0.02, args.points))
    t1, c1 = time.perf_counter(), time.process_time()
    sols = solve_path(D, y, regs, "cross_entropy", tol=args.tol, max_iter=1_000_000, verbose=False)
    wall, cpu = time.perf_counter() - t1, time.process_time() - c1
    rss_gib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
    rows = [{"reg": s.reg, "gap": s.gap, "converged": s.converged, "active": int(len(s.active)),
             "passes": s.n_passes, "time_s": s.time} for s in sols]
    for r in rows:
        print(f"reg {r['reg']:.3e}  gap {r['gap']:.1e}  converged {r['converged']}  active {r['active']:5d}  "
              f"passes {r['passes']:7.1f}  {r['time_s']:.1f}s")
    print(f"D {args.rows} x {args.atoms} uint8 ({nbytes / 2**30:.2f} GiB) on {args.device or 'numpy'} {gpu or ''}, generated in {gen_s:.1f}s; "
          f"path of {args.points}: wall {wall:.1f}s, CPU {cpu:.1f}s; peak RSS {rss_gib:.2f} GiB; "
          f"all certified: {all(r['converged'] for r in rows)}")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": run_meta(rows=args.rows, atoms=args.atoms, classes=args.classes),
                               "path": rows, "wall_s": wall, "cpu_s": cpu, "peak_rss_gib": rss_gib,
                               "device": args.device or "numpy", "gpu": gpu}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
