"""Packed versus whole-subnetwork reconstruction of depth-1 CVX networks (``convex.pack``).

The rebuilt network of a depth-1 ``cvx`` run used to keep every witness subnetwork an active atom
came from, whole (width 32: ~1 used neuron in 32). ``convex.pack=true`` (the default for ``cvx``)
keeps only the active atoms' neurons. Both must give the same predictions; this measures what
packing saves: hidden neurons, SynOps per sample, the time to score the reg path (each point's
rebuilt network is run on train and val) and the whole run, CPU and wall, side by side.

    python benchmarks/reconstruct_pack.py --suites mnist events ucr-GunPoint ucr-OSULeaf \
        --out benchmarks/results/reconstruct_pack.json

Library defaults (``spikeopt train --method cvx``), one torch thread, the two settings alternated
per suite (which goes first alternates too).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import run_meta  # noqa: E402
from accuracy import DEFAULTS, UCR_SUITES, SUITES, suite_spec  # noqa: E402


def one(task: str, options: dict, seed: int, pack: bool) -> dict:
    from spikeopt.experiments.config import RunConfig
    from spikeopt.experiments.run import run

    cfg = RunConfig(task=task, task_options=dict(options), method="cvx", seed=seed)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    result = run(cfg.override(DEFAULTS + [f"convex.pack={'true' if pack else 'false'}"]))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    rec = result["reconstruction"]
    return {
        "pack": pack, "cpu_s": cpu, "wall_s": wall, "load_average_1min": os.getloadavg()[0],
        "timings": result["timings"], "metrics": result["metrics"],
        "active_atoms": rec["active_atoms"], "subnetworks": rec["subnetworks"],
        "hidden_neurons": result["config"]["model"]["width"] * max(1, rec["subnetworks"]),
        "synops_per_sample": result["synops"]["synops_per_sample"]["total"],
        "energy_nj_per_sample": result["synops"]["energy_pj_per_sample"]["total"] / 1e3,
        "selected_reg": result["certificate"]["reg"],
    }


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suites", nargs="+", default=["mnist", "events", "ucr-GunPoint", "ucr-OSULeaf"],
                   choices=[*SUITES, *UCR_SUITES])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="benchmarks/results/reconstruct_pack.json")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from spikeopt.experiments.run import write_json

    rows = []
    for i, suite in enumerate(args.suites):
        task, options, _ = suite_spec(suite)
        for pack in ((True, False) if i % 2 == 0 else (False, True)):
            r = {"suite": suite, "seed": args.seed, **one(task, options, args.seed, pack)}
            rows.append(r)
            t = r["timings"]
            print(f"{suite:14} pack={str(pack):5}  test {r['metrics']['test']['accuracy']:.4f}  "
                  f"neurons {r['hidden_neurons']:5d} ({r['active_atoms']} active)  SynOps/sample "
                  f"{r['synops_per_sample']:.3g}  path scoring {t['path_evaluate_s']:.1f}s  "
                  f"run CPU {r['cpu_s']:.1f}s wall {r['wall_s']:.1f}s  load {r['load_average_1min']:.1f}", flush=True)
            write_json({"command": " ".join(sys.argv), "meta": run_meta(), "rows": rows}, args.out)
        a, b = (next(r for r in rows if r["suite"] == suite and r["pack"] is v) for v in (True, False))
        same = a["metrics"] == b["metrics"]
        print(f"== {suite}: same metrics {same}; neurons {b['hidden_neurons'] / a['hidden_neurons']:.1f}x fewer, "
              f"SynOps {b['synops_per_sample'] / a['synops_per_sample']:.1f}x fewer, path scoring "
              f"{b['timings']['path_evaluate_s'] / a['timings']['path_evaluate_s']:.1f}x faster, run CPU "
              f"{b['cpu_s'] / a['cpu_s']:.2f}x", flush=True)
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
