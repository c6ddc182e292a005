"""How the default CVX pipeline scales with the number of training sequences (wall, CPU, peak memory).

``spikeopt train --task arrays --method cvx`` with nothing tuned, on a synthetic data set written to a
temporary ``.npz``: Cylinder-Bell-Funnel (Saito 1994; a UCR archive classic), three classes of
``T = 128`` noisy shapes with random onset and length. 80% of the rows train and 20% validate
(the arrays task's split), plus a separate test set of 4,000. Each size runs in a fresh child
process; its CPU time and peak RSS come from the kernel (``getrusage`` of the child).

    python benchmarks/defaults_scale.py --rows 2000 20000 --out benchmarks/results/defaults_scale.json
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import run_meta  # noqa: E402


def cbf(n: int, steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """``n`` Cylinder-Bell-Funnel series ``[n, steps]`` and their labels 0/1/2."""
    t = np.arange(steps)
    y = rng.integers(0, 3, n)
    a = rng.integers(steps // 8, steps // 4, n)
    b = np.minimum(a + rng.integers(steps // 4, 3 * steps // 4, n), steps - 1)
    eta = rng.normal(6.0, 1.0, n)
    inside = (t[None] >= a[:, None]) & (t[None] <= b[:, None])
    up = (t[None] - a[:, None]) / (b - a)[:, None]
    shape = np.where(y[:, None] == 0, 1.0, np.where(y[:, None] == 1, up, 1.0 - up))
    x = eta[:, None] * inside * shape + rng.normal(0.0, 1.0, (n, steps))
    return x.astype(np.float32), y


def one(rows: int, steps: int, seed: int, workdir: Path) -> dict:
    rng = np.random.default_rng(seed)
    x, y = cbf(rows, steps, rng)
    xt, yt = cbf(4000, steps, rng)
    data = workdir / f"cbf_{rows}.npz"
    np.savez(data, x=x, y=y, x_test=xt, y_test=yt)
    out = workdir / f"cbf_{rows}.json"
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    subprocess.run([sys.executable, "-m", "spikeopt", "train", "--task", "arrays", "--data-file", str(data),
                    "--method", "cvx", "--seed", str(seed), "--no-progress", "--out", str(out)],
                   check=True, stdout=subprocess.DEVNULL)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = json.loads(out.read_text())
    return {
        "rows": rows, "steps": steps,
        "wall_s": wall, "cpu_s": (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime),
        "peak_rss_gib": after.ru_maxrss / 2**20,  # kB on Linux; the largest child so far
        "load_average_1min": os.getloadavg()[0],
        "test_accuracy": result["metrics"]["test"]["accuracy"], "timings": result["timings"],
        "certificate": result["certificate"], "reconstruction": result["reconstruction"],
        "path_points": len(result["path"]),
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--rows", nargs="+", type=int, default=[2000, 20000], help="sequences (train + val)")
    p.add_argument("--steps", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="benchmarks/results/defaults_scale.json")
    args = p.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n in sorted(args.rows):  # ascending: ru_maxrss of the children is a running maximum
            r = one(n, args.steps, args.seed, Path(tmp))
            rows.append(r)
            print(f"rows {n:6d}: wall {r['wall_s']:.0f}s  CPU {r['cpu_s']:.0f}s  peak RSS {r['peak_rss_gib']:.2f} GiB  "
                  f"test {r['test_accuracy']:.4f}  gap {r['certificate']['gap']:.1e}  "
                  f"active {r['reconstruction']['active_atoms']}  load {r['load_average_1min']:.1f}", flush=True)
            Path(args.out).parent.mkdir(parents=True, exist_ok=True)
            Path(args.out).write_text(json.dumps({"command": " ".join(sys.argv), "meta": run_meta(), "rows": rows},
                                                 indent=1))
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
