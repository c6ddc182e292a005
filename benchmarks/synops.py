"""Accuracy beside spikes, synaptic operations and energy for every method (library defaults).

    python benchmarks/synops.py --suites ucr-GunPoint xor8 --methods sg cvx sg-cvx sast admm --seeds 0

Each run is ``spikeopt train`` with the library defaults; the SynOps and energy come from the
result's ``synops`` entry (counted on the test split; see ``spikeopt/synops.py`` for what is
counted and the 45 nm constants). Accuracy-only: no timings are reported, no lock needed.
Writes ``benchmarks/results/synops_<suites>.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import traceback
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
import torch  # noqa: E402

torch.set_num_threads(1)

from spikeopt.experiments.config import RunConfig  # noqa: E402
from spikeopt.experiments.run import run, write_json  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import run_meta  # noqa: E402
from accuracy import DEFAULTS, suite_spec  # noqa: E402

QUIET = ["sast.progress=false", "admm.progress=false"]
COLUMNS = ("test acc", "spikes/sample", "SynOps/sample", "SynOps/step", "energy nJ/sample", "dense-equiv. nJ")


def _row(results: list[dict], metric: str) -> list[str]:
    def stat(values):
        if len(values) == 1:
            return f"{values[0]:.4g}"
        return f"{statistics.mean(values):.4g} ± {statistics.stdev(values):.2g}"

    acc = [r["metrics"]["test"][metric] for r in results]
    s = [r["synops"] for r in results]
    return [stat(acc), stat([sum(x["spikes_per_sample"].values()) for x in s]),
            stat([x["synops_per_sample"]["total"] for x in s]), stat([x["synops_per_sample_step"] for x in s]),
            stat([x["energy_pj_per_sample"]["total"] / 1e3 for x in s]),
            stat([x["energy_pj_per_sample"]["dense_equivalent"] / 1e3 for x in s])]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suites", nargs="+", default=["ucr-GunPoint", "xor8"])
    p.add_argument("--methods", nargs="+", default=["sg", "cvx", "sg-cvx", "sast", "admm"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--set", action="append", default=[], help="config override applied to every run")
    args = p.parse_args(argv)
    out = Path(__file__).resolve().parent / "results" / f"synops_{'_'.join(args.suites)}.json"
    record: dict = {"meta": run_meta(), "runs": {}, "errors": {}}
    lines = ["| data set | method | " + " | ".join(COLUMNS) + " |", "|---" * (len(COLUMNS) + 2) + "|"]
    for suite in args.suites:
        task, options, columns = suite_spec(suite)
        metric = columns[0][1]
        for method in args.methods:
            results = []
            for seed in args.seeds:
                cfg = RunConfig(task=task, task_options=dict(options), method=method, seed=seed)
                try:
                    results.append(run(cfg.override(DEFAULTS + QUIET + args.set)))
                except Exception as err:  # one method failing must not lose the others
                    record["errors"][f"{suite}/{method}/{seed}"] = f"{type(err).__name__}: {err}"
                    traceback.print_exc()
            record["runs"][f"{suite}/{method}"] = [
                {"seed": r["seed"], "metrics": r["metrics"], "synops": r["synops"], "model": r["model"]} for r in results]
            if results:
                lines.append(f"| {suite} | {method} | " + " | ".join(_row(results, metric)) + " |")
                print(lines[-1], flush=True)
            write_json(record, out)
    print("\n".join(lines))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
