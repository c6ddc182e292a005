"""Accuracy of the training variants side by side on the paper's tasks (not part of the test run).

Every method gets the same architecture and the same seeds; the headline metric of each split is
printed as a table and everything is written as JSON.

    python benchmarks/accuracy.py --methods sg cvx sg-cvx sg-sg --seeds 0 --out benchmarks/results/accuracy.json
    python benchmarks/accuracy.py --suites xor8 add2 --methods sg --set sg.epochs=5     # quicker look
    python benchmarks/accuracy.py --suites ucr --methods sg logreg --out benchmarks/results/accuracy_ucr.json
    # SG given as many hidden neurons as each (suite, seed)'s reconstructed CVX network uses:
    python benchmarks/accuracy.py --defaults --suites mnist --methods sg --seeds 0 1 2 \
        --match-neurons benchmarks/results/accuracy_defaults_mnist.json --match-method cvx

``--suites ucr`` expands to every UCR/UEA set bundled with sktime that loads (`datasets.py`;
the unequal-length ones resampled). Method ``logreg`` is the linear bar: scikit-learn's
LogisticRegression on the raw flattened input ``[N, T*F]`` of the same splits, C picked on the
validation split from ``LOGREG_C`` (ties: the smaller C), then refit on train only. Method
``logreg-refit`` is the same model given the data a refit CVX run trains on: C picked by stratified
5-fold cross-validation on train + val (scikit-learn's LogisticRegressionCV), then refit on train + val.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

from spikeopt.experiments.config import RunConfig
from spikeopt.experiments.run import run, write_json
from spikeopt.tasks import make_task

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import run_meta  # noqa: E402
from datasets import UCR_SETS, ucr_options  # noqa: E402

# suite -> (task, task options, split/metric columns to report)
SUITES: dict[str, tuple[str, dict, list[tuple[str, str]]]] = {
    "xor8": ("first-last-xor", {"steps": 8}, [("test", "accuracy")]),
    "xor32": ("first-last-xor", {"steps": 32}, [("test", "accuracy")]),
    "add2": ("addition", {"base": 2, "digits": 8},
             [("test", "joint_token_accuracy"), ("ood_10x", "joint_token_accuracy"),
              ("test", "joint_sequence_accuracy")]),
    "mnist": ("mnist-seq", {"steps": 8}, [("test", "accuracy")]),
    "events": ("event-digits", {}, [("test", "accuracy")]),
}
UCR_SUITES = {f"ucr-{name}": name for name in UCR_SETS}
LOGREG_C = (0.01, 0.1, 1.0, 10.0, 100.0)


def suite_spec(suite: str) -> tuple[str, dict, list[tuple[str, str]]]:
    if suite in UCR_SUITES:
        return "ucr", ucr_options(UCR_SUITES[suite]), [("test", "accuracy")]
    return SUITES[suite]


def _flat_splits(task_name: str, options: dict, seed: int) -> dict:
    """Every split as ``(x [N, T*F] float64, y [N])``: the raw input a linear model sees."""
    task = make_task(task_name, **options)
    if task.readout != "final" or len(task.heads) != 1:
        raise ValueError(f"logreg needs a single-head final-readout task; {task_name} is not")
    splits = task.splits(seed)
    return {k: (v.x.permute(1, 0, 2).reshape(len(v), -1).double().numpy(), v.y[:, 0].numpy()) for k, v in splits.items()}


def logreg_refit_run(task_name: str, options: dict, seed: int) -> dict:
    """The linear bar on a refit CVX run's data: C by stratified 5-fold CV on train + val, refit on both."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import StratifiedKFold

    flat = _flat_splits(task_name, options, seed)
    x = np.concatenate([flat["train"][0], flat["val"][0]])
    y = np.concatenate([flat["train"][1], flat["val"][1]])
    folds = StratifiedKFold(5, shuffle=True, random_state=seed)
    model = LogisticRegressionCV(Cs=list(LOGREG_C), cv=folds, max_iter=5000).fit(x, y)
    metrics = {k: {"accuracy": float(np.mean(model.predict(a) == b))} for k, (a, b) in flat.items()}
    return {"metrics": metrics, "logreg": {"C": float(model.C_[0]), "selection": "5-fold CV on train + val"},
            "config": {"task": task_name, "task_options": options, "seed": seed, "method": "logreg-refit"}}


def logreg_run(task_name: str, options: dict, seed: int) -> dict:
    """The linear bar: LogisticRegression on the flattened raw input, C chosen on val."""
    from sklearn.linear_model import LogisticRegression

    flat = _flat_splits(task_name, options, seed)

    def fit(c: float):
        return LogisticRegression(C=c, max_iter=5000).fit(*flat["train"])

    val_acc = {c: float(np.mean(fit(c).predict(flat["val"][0]) == flat["val"][1])) for c in LOGREG_C}
    best = max(LOGREG_C, key=lambda c: (val_acc[c], -c))
    model = fit(best)
    metrics = {k: {"accuracy": float(np.mean(model.predict(x) == y))} for k, (x, y) in flat.items()}
    return {"metrics": metrics, "logreg": {"C": best, "val_accuracy_by_C": val_acc}, "config": {
        "task": task_name, "task_options": options, "seed": seed, "method": "logreg"}}

BASE = [
    "model.subnetworks=32", "model.width=16", "model.depth=1",
    "sg.epochs=30", "sg.lr=3e-3", "sg.batch_size=128", "sg.progress=false",
    "finetune.epochs=10", "finetune.lr=1e-3", "finetune.progress=false",
    "convex.reg=1e-3",
]
# --defaults: nothing pinned but the progress bars (library defaults: 16 x 32 LIF, depth 1, synaptic
# delays and a spike-count readout, SG 30 epochs; CVX calibrated witnesses, 8192 atoms, reg auto)
DEFAULTS = ["sg.progress=false", "finetune.progress=false", "convex.progress=false"]


def save(out: str, base: list[str], rows: list[dict]) -> None:
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    write_json({"command": " ".join(sys.argv), "meta": run_meta(), "base": base, "rows": rows}, out)


def matched_size(path: str | None, method: str, suite: str, seed: int, cfg: RunConfig) -> list[str]:
    """``model.subnetworks`` overrides giving this run the hidden neurons of ``method``'s network in ``path``."""
    import json

    if path is None:
        return []
    rows = [r for r in json.load(open(path))["rows"]
            if r.get("suite") == suite and r.get("seed") == seed and r.get("method") == method]
    if not rows or not rows[0].get("reconstruction"):
        raise SystemExit(f"--match-neurons: no {method} row with a reconstruction for {suite} seed {seed} in {path}")
    active = int(rows[0]["reconstruction"]["active_atoms"])
    width = cfg.model.width
    return [f"model.subnetworks={max(1, -(-active // width))}"]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--suites", nargs="+", default=["xor8", "xor32", "add2", "mnist"],
                   choices=[*SUITES, "ucr", *UCR_SUITES], help="'ucr' = every bundled UCR set")
    p.add_argument("--methods", nargs="+", default=["sg", "cvx", "sg-cvx", "sg-sg"])
    p.add_argument("--seeds", nargs="+", type=int, default=[0])
    p.add_argument("--set", action="append", default=[], help="config override applied to every run")
    p.add_argument("--out", default="benchmarks/results/accuracy.json")
    p.add_argument("--defaults", action="store_true",
                   help="the library's own defaults (what `spikeopt train` does) instead of the fixed BASE sizes")
    p.add_argument("--match-neurons", metavar="RESULTS.json",
                   help="give every non-convex run as many hidden neurons as the reconstructed network of "
                        "--match-method on the same suite and seed in this earlier results file (model.width kept, "
                        "model.subnetworks = ceil(active atoms / width))")
    p.add_argument("--match-method", default="cvx")
    args = p.parse_args(argv)
    import torch

    torch.set_num_threads(1)

    suites = [u for s in args.suites for u in (UCR_SUITES if s == "ucr" else [s])]
    base = DEFAULTS if args.defaults else BASE
    rows = []
    table: dict[str, dict[str, str]] = {}
    for suite in suites:
        try:
            task, options, columns = suite_spec(suite)
            make_task(task, **options)
        except (ValueError, ImportError, FileNotFoundError) as err:
            print(f"{suite}: does not load -- {err}", flush=True)
            rows.append({"suite": suite, "error": str(err)})
            continue
        for method in args.methods:
            values: dict[str, list[float]] = {f"{s}:{m}": [] for s, m in columns}
            for seed in args.seeds:
                t0 = time.perf_counter()
                if method in ("logreg", "logreg-refit"):
                    result = (logreg_run if method == "logreg" else logreg_refit_run)(task, dict(options), seed)
                else:
                    cfg = RunConfig(task=task, task_options=dict(options), method=method, seed=seed)
                    extra = matched_size(args.match_neurons, args.match_method, suite, seed, cfg.override(base))
                    result = run(cfg.override(base + extra + args.set))
                for s, m in columns:
                    values[f"{s}:{m}"].append(result["metrics"][s][m])
                rows.append({"suite": suite, "method": method, "seed": seed, "seconds": time.perf_counter() - t0,
                             "metrics": result["metrics"], "certificate": result.get("certificate"),
                             "reconstruction": result.get("reconstruction"), "config": result["config"],
                             "selection": result.get("selection"), "path": result.get("path"),
                             "matched_to": args.match_method if args.match_neurons and not method.startswith("logreg")
                             else None, "logreg": result.get("logreg"), "refit": result.get("refit")})
                save(args.out, base + args.set, rows)  # after every run: a long benchmark cut short keeps its rows
                cert = result.get("certificate")
                extra = f" gap {cert['gap']:.1e}" if cert else ""
                print(f"{suite:6} {method:7} seed {seed}: "
                      + "  ".join(f"{k} {v[-1]:.4f}" for k, v in values.items())
                      + f"  ({rows[-1]['seconds']:.0f}s){extra}", flush=True)
            summary = "  ".join(
                f"{k} {statistics.mean(v):.4f}" + (f"±{statistics.stdev(v):.4f}" if len(v) > 1 else "")
                for k, v in values.items()
            )
            print(f"== {suite:6} {method:7} {summary}", flush=True)
            table.setdefault(suite, {})[method] = summary
    print("\n| suite | " + " | ".join(args.methods) + " |\n|---|" + "---|" * len(args.methods))
    for suite, by_method in table.items():
        print(f"| {suite} | " + " | ".join(by_method.get(m, "-") for m in args.methods) + " |")
    save(args.out, base + args.set, rows)
    print(f"written {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
