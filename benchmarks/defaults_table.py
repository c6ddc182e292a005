"""The README's table of library defaults, from `benchmarks/accuracy.py` result files (no runs here).

    python benchmarks/defaults_table.py benchmarks/results/accuracy_defaults_*.json \\
        benchmarks/results/defaults_v2/*.json

Files are read in the order given; a later file's rows replace an earlier file's rows of the same
(suite, method) -- so rerunning one method on new code updates only its column; with ``--by-seed``
rows of the same (suite, method, seed), so one configuration run in several files (seeds split
over runs) reads as one cell. Rows written with
``--match-neurons`` form their own column ("SG, neurons of CVX"). Test accuracy, mean ± std over
seeds; the best SNN of each row in bold; a seed count is shown where it is not 3.
"""

from __future__ import annotations

import argparse
import json
import statistics

ORDER = ["ucr-GunPoint", "ucr-ItalyPowerDemand", "ucr-ArrowHead", "ucr-BasicMotions", "ucr-OSULeaf", "mnist", "events",
         "ucr-ACSF1", "ucr-JapaneseVowels", "ucr-PLAID"]
NAMES = {"mnist": "mnist-seq (digits)", "events": "event-digits"}
COLUMNS = [("logreg", None, "logreg (raw input)"), ("logreg-refit", None, "logreg, CV + refit on train + val"),
           ("sg", None, "SG"), ("cvx", None, "CVX"),
           ("sg-cvx", None, "SG-CVX"), ("sg", "cvx", "SG, neurons of CVX"), ("sg", "sg-cvx", "SG, neurons of SG-CVX")]
SNN = {("sg", None), ("cvx", None), ("sg-cvx", None)}


def collect(paths: list[str], by_seed: bool = False) -> dict[tuple[str, str, str | None], dict[int, float]]:
    table: dict[tuple[str, str, str | None], dict[int, float]] = {}
    for path in paths:
        fresh: dict[tuple[str, str, str | None], dict[int, float]] = {}
        for r in json.load(open(path))["rows"]:
            if "metrics" not in r:
                continue
            key = (r["suite"], r["method"], r.get("matched_to"))
            fresh.setdefault(key, {})[r["seed"]] = r["metrics"]["test"]["accuracy"]
        for key, seeds in fresh.items():
            if by_seed:
                table.setdefault(key, {}).update(seeds)
            else:
                table[key] = seeds
    return table


def cell(values: list[float], seeds: int = 3) -> str:
    if not values:
        return "-"
    text = f"{statistics.mean(values):.3f}" + (f" ± {statistics.stdev(values):.3f}" if len(values) > 1 else "")
    return text + (f" ({len(values)} seeds)" if len(values) != seeds else "")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("files", nargs="+")
    p.add_argument("--by-seed", action="store_true", help="later files replace earlier rows seed by seed, not whole cells")
    args = p.parse_args(argv)
    table = collect(args.files, args.by_seed)
    used = [c for c in COLUMNS if any(k[1:] == c[:2] for k in table)]
    lines = ["| data set | " + " | ".join(c[2] for c in used) + " |", "|---|" + "---|" * len(used)]
    for suite in ORDER:
        if not any(k[0] == suite for k in table):
            continue
        values = {c[:2]: list(table.get((suite, *c[:2]), {}).values()) for c in used}
        snn = [c for c in values if c in SNN and values[c]]
        best = max(snn, key=lambda c: statistics.mean(values[c])) if snn else None
        cells = [f"**{cell(values[c[:2]])}**" if c[:2] == best else cell(values[c[:2]]) for c in used]
        lines.append(f"| {NAMES.get(suite, suite.removeprefix('ucr-'))} | " + " | ".join(cells) + " |")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
