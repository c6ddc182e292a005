"""A default change judged seed by seed: two sets of `benchmarks/accuracy.py` result files, paired (no runs here).

    python benchmarks/paired_table.py --method cvx \\
        --before benchmarks/results/defaults_v3/ablation/refit_off_cvx*.json \\
        --after benchmarks/results/defaults_v3/ablation/refit_on_cvx*.json

Rows of the same (suite, method, seed) in both sets are paired (later files replace earlier ones, as
in `defaults_table.py`); unpaired rows are left out. Why paired: the seed moves the split, the
witnesses and the folds together, and its spread (1-10 points on the small UCR sets) is larger than
most default changes, so only the per-seed differences say whether a change helps. Per suite: the test
metric (``--metric``, default accuracy) before and after (mean over the paired seeds), the mean difference in points, and how many
seeds went up / stayed / went down; then the same over every pair.
"""

from __future__ import annotations

import argparse
import json
import statistics


def read(paths: list[str], method: str, metric: str) -> dict[tuple[str, int], float]:
    acc: dict[tuple[str, int], float] = {}
    for path in paths:
        for r in json.load(open(path))["rows"]:
            if "metrics" in r and r["method"] == method and not r.get("matched_to") and metric in r["metrics"]["test"]:
                acc[(r["suite"], r["seed"])] = r["metrics"]["test"][metric]
    return acc


def line(name: str, pairs: list[tuple[float, float]]) -> str:
    diff = [100 * (b - a) for a, b in pairs]
    up, down = sum(d > 1e-9 for d in diff), sum(d < -1e-9 for d in diff)
    return (f"| {name} | {len(pairs)} | {statistics.mean(a for a, _ in pairs):.3f} | "
            f"{statistics.mean(b for _, b in pairs):.3f} | {statistics.mean(diff):+.1f} | "
            f"{up} / {len(pairs) - up - down} / {down} |")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--before", nargs="+", required=True)
    p.add_argument("--after", nargs="+", required=True)
    p.add_argument("--method", default="cvx")
    p.add_argument("--metric", default="accuracy", help="a test metric, e.g. joint_token_accuracy for addition")
    args = p.parse_args(argv)
    before, after = read(args.before, args.method, args.metric), read(args.after, args.method, args.metric)
    keys = sorted(set(before) & set(after))
    if not keys:
        raise SystemExit(f"no (suite, seed) of method {args.method!r} with test {args.metric!r} is in both sets")
    print("| data set | seeds | before | after | change (points) | seeds up / same / down |")
    print("|---|---|---|---|---|---|")
    for suite in dict.fromkeys(k[0] for k in keys):
        print(line(suite.removeprefix("ucr-"), [(before[k], after[k]) for k in keys if k[0] == suite]))
    print(line("all pairs", [(before[k], after[k]) for k in keys]))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
