"""Row-sharded solves with 1, 2, ... processes: the same certificate, and each process's memory.

What it shows: with ``k`` processes each one holds ``1/k`` of the dictionary, while the solution
and the certificate stay those of one process. For every process count it runs
``examples/distributed_solve.py`` under ``torchrun --standalone`` (gloo, CPU, 1 thread per process)
and records, per process, the dictionary bytes it holds and its peak resident memory (``ru_maxrss``;
about 300 MiB of it is the Python/torch/numba baseline), plus primal, dual, gap and passes.
No timing targets (wall and CPU seconds are recorded for information only; this is not run under
the timing lock). Writes ``benchmarks/results/solver_distributed.json``.

    python benchmarks/solver_distributed.py [--rows 40000] [--atoms 3000] [--procs 1 2]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "benchmarks"))
from _meta import run_meta  # noqa: E402


def run(procs: int, args) -> dict:
    env = dict(os.environ, OMP_NUM_THREADS="1", NUMBA_NUM_THREADS="1", MKL_NUM_THREADS="1", OPENBLAS_NUM_THREADS="1",
               PYTHONPATH=os.pathsep.join([str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={procs}",
           str(ROOT / "examples" / "distributed_solve.py"), "--rows", str(args.rows), "--atoms", str(args.atoms),
           "--classes", str(args.classes), "--reg", str(args.reg), "--tol", str(args.tol)]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"{procs} processes failed:\n{res.stdout[-3000:]}\n{res.stderr[-3000:]}")
    return json.loads([line for line in res.stdout.splitlines() if line.startswith("{")][-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rows", type=int, default=40_000)
    ap.add_argument("--atoms", type=int, default=3_000)
    ap.add_argument("--classes", type=int, default=3)
    ap.add_argument("--reg", type=float, default=5e-3)
    ap.add_argument("--tol", type=float, default=1e-6)
    ap.add_argument("--procs", type=int, nargs="+", default=[1, 2])
    args = ap.parse_args()
    rows = [run(k, args) for k in args.procs]
    base = rows[0]
    print(f"{args.rows} rows x {args.atoms} binary atoms, {args.classes}-class cross-entropy, reg {args.reg}, tol {args.tol}")
    print(f"{'procs':>5} {'dict MiB/proc':>13} {'peak RSS MiB/proc':>22} {'primal':>18} {'dual':>18} {'gap':>9} {'rel diff':>9} {'passes':>7}")
    for r in rows:
        rel = max(abs(r["primal"] - base["primal"]) / abs(base["primal"]), abs(r["dual"] - base["dual"]) / abs(base["dual"]))
        r["rel_diff_vs_first"] = rel
        rss = "/".join(f"{m:.0f}" for m in r["peak_rss_mib"])
        dct = "/".join(f"{m:.0f}" for m in r["dict_mib"])
        print(f"{r['processes']:>5} {dct:>13} {rss:>22} {r['primal']:>18.12g} {r['dual']:>18.12g} {r['gap']:>9.2e} {rel:>9.1e} {r['n_passes']:>7}")
    out = ROOT / "benchmarks" / "results" / "solver_distributed.json"
    out.write_text(json.dumps({"meta": run_meta(), "args": vars(args), "runs": rows}, indent=1))
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
