"""Witness calibration's firing statistic: the compiled loop against the ``lif_step`` loop it replaced.

    python benchmarks/calibration.py --out benchmarks/results/calibration.json

Bisection evaluates the statistic a dozen times per layer and resampling round for every witness
block, so at 32,768 atoms it was most of the dictionary's build. Shapes: the calibration batch of
real UCR-sized inputs (``T`` steps, ``n`` sequences, one block of 1,024 neurons). Both codes run on
the same drive, one torch thread, alternated ``--repeats`` times; medians of CPU time (wall beside).
Each result is checked bit for bit against the other first.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch

from _meta import run_meta  # noqa: E402 (benchmarks/ is on sys.path when run as a script)

SHAPES = [(24, 53), (64, 256), (64, 40)]  # (T, n): ItalyPowerDemand-like, the 256-sequence cap, pooled series


def _time(fn, calls: int) -> tuple[float, float]:
    wall, cpu = time.perf_counter(), time.process_time()
    for _ in range(calls):
        fn()
    return (time.process_time() - cpu) / calls, (time.perf_counter() - wall) / calls


def main(argv: list[str] | None = None) -> int:
    from spikeopt.convex import calibrate

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--neurons", type=int, default=1024)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(0)
    rows = []
    for steps, n in SHAPES:
        drive = torch.randn(steps, n, args.neurons, generator=g)
        bias = torch.randn(args.neurons, generator=g) * 0.3
        beta = torch.rand(args.neurons, generator=g) * 0.6 + 0.3
        weights = calibrate.leak_weights(steps, 1.0, torch.float32)
        for statistic in ("final", "integrate"):
            call = (drive, bias, beta, 1.0, statistic, weights)
            same = torch.equal(calibrate._statistic(*call), calibrate._statistic_torch(*call))
            times: dict[str, list[tuple[float, float]]] = {"compiled": [], "lif_step loop": []}
            for _ in range(args.repeats):
                times["compiled"].append(_time(lambda: calibrate._statistic(*call), 20))
                times["lif_step loop"].append(_time(lambda: calibrate._statistic_torch(*call), 5))
            med = {k: (statistics.median(c for c, _ in v), statistics.median(w for _, w in v)) for k, v in times.items()}
            row = {"steps": steps, "sequences": n, "neurons": args.neurons, "statistic": statistic,
                   "identical": same, "compiled_cpu_ms": 1e3 * med["compiled"][0],
                   "compiled_wall_ms": 1e3 * med["compiled"][1], "loop_cpu_ms": 1e3 * med["lif_step loop"][0],
                   "loop_wall_ms": 1e3 * med["lif_step loop"][1],
                   "speedup_cpu": med["lif_step loop"][0] / med["compiled"][0]}
            rows.append(row)
            print(f"T={steps:3d} n={n:3d} {statistic:9s} compiled {row['compiled_cpu_ms']:7.2f} ms  "
                  f"lif_step loop {row['loop_cpu_ms']:7.2f} ms  {row['speedup_cpu']:5.1f}x  identical {same}")
    if args.out:
        args.out.write_text(json.dumps({"command": " ".join(sys.argv), "meta": run_meta(), "rows": rows}, indent=1))
        print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
