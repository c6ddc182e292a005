"""Peak memory of building a spike dictionary and solving on it at N = 20,000 (first-last-XOR).

Each case runs in a fresh process; peak RSS (ru_maxrss) is reported with the dictionary's size,
so the solver's own overhead can be read off.

    python benchmarks/solver_memory.py
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent


def _case(steps: int, n: int, loss: str, reg: float) -> dict:
    sys.path.insert(0, str(HERE))
    import numpy as np
    from solver import xor_instance

    from spikeopt.convex.solver import solve

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    D, Y, _, heads = xor_instance(steps, n)
    after_dict = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    y = Y if loss == "cross_entropy" else np.eye(2)[np.asarray(Y).reshape(-1)]
    t0 = time.perf_counter()
    sol = solve(D, y, reg, loss=list(heads) if loss == "cross_entropy" else "squared", tol=1e-6)
    return {
        "steps": steps, "n": n, "atoms": int(D.shape[1]), "loss": loss, "reg": reg,
        "dictionary_mib": D.nbytes / 2**20, "solve_s": time.perf_counter() - t0, "gap": sol.gap,
        "rss_before_mib": base / 1024, "rss_after_dictionary_mib": after_dict / 1024,
        "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--cases", nargs="+", default=["8:squared:1e-3", "16:squared:1e-2", "16:cross_entropy:1e-2"],
                   help="steps:loss:reg")
    p.add_argument("--n", type=int, default=20000)
    p.add_argument("--child", nargs=4, help=argparse.SUPPRESS)
    p.add_argument("--out", default=str(HERE / "results" / "solver_memory.json"))
    args = p.parse_args(argv)
    if args.child:
        steps, n, loss, reg = args.child
        print(json.dumps(_case(int(steps), int(n), loss, float(reg))))
        return 0
    rows = []
    print(f"{'T':>3} {'N':>6} {'atoms':>6} {'loss':>14} {'reg':>6} {'D MiB':>7} {'peak RSS MiB':>13} {'solve s':>8} {'gap':>8}")
    for case in args.cases:
        steps, loss, reg = case.split(":")
        out = subprocess.run([sys.executable, __file__, "--child", steps, str(args.n), loss, reg],
                             capture_output=True, text=True, check=True)
        row = json.loads(out.stdout.strip().splitlines()[-1])
        rows.append(row)
        print(f"{row['steps']:>3} {row['n']:>6} {row['atoms']:>6} {row['loss']:>14} {row['reg']:>6g} "
              f"{row['dictionary_mib']:>7.1f} {row['peak_rss_mib']:>13.0f} {row['solve_s']:>8.2f} {row['gap']:>8.1e}",
              flush=True)
    from spikeopt.experiments.run import write_json

    write_json({"command": " ".join(sys.argv), "rows": rows}, args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
