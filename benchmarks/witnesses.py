"""Which witnesses, readout and dictionary size make CVX accurate? Held-out accuracy on real sequence data.

For each dataset and seed: CVX with Gaussian vs calibrated witnesses, final vs integrate readout and
a target number of informative atoms, the reg chosen on a validation split over a geometric path
``reg_max .. 1e-3 reg_max`` (``solve_path``, cross-entropy, no intercept); beside it logistic
regression on the raw flattened input (C chosen on the same validation split), the bar to beat.
Also the silent / saturated fractions of the raw witness neurons.

Data: ``mnist-seq`` (built-in sklearn digits), ``event-digits`` (built-in), and UCR/UEA datasets
from sktime's bundled ``.ts`` files (read offline; sktime is needed by this benchmark only). For
UCR the validation split is carved (seeded, stratified, 25%) from TRAIN; TEST is the test set;
every series is z-normalised per channel; tensors are time-major ``[T, N, F]``.

    PYTHONPATH=src OMP_NUM_THREADS=1 python3 benchmarks/witnesses.py --datasets GunPoint ItalyPowerDemand \\
        --seeds 0 1 2 --atoms 512 2048 --out benchmarks/results/witnesses_ucr.json
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
import warnings

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from _meta import run_meta  # noqa: E402

from spikeopt.convex.calibrate import calibrated_witnesses  # noqa: E402
from spikeopt.convex.dictionary import roll  # noqa: E402
from spikeopt.convex.dictionary_fill import fill_dictionary  # noqa: E402
from spikeopt.convex.solver import reg_max, solve_path  # noqa: E402
from spikeopt.convex.witnesses import gaussian_witnesses  # noqa: E402
from spikeopt.snn.config import ModelConfig  # noqa: E402
from spikeopt.train.pipelines import block_seed  # noqa: E402

BUILTIN = ("mnist-seq", "event-digits")
UCR = ("GunPoint", "ItalyPowerDemand", "ArrowHead", "OSULeaf", "BasicMotions")


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _ucr_split(name: str, part: str) -> tuple[np.ndarray, np.ndarray]:
    import sktime.datasets
    from sktime.datasets import load_from_tsfile_to_dataframe

    path = os.path.join(os.path.dirname(sktime.datasets.__file__), "data", name, f"{name}_{part}.ts")
    frame, labels = load_from_tsfile_to_dataframe(path)
    x = np.stack([np.stack([np.asarray(cell, dtype=np.float64) for cell in row]) for row in frame.values])  # [N, F, T]
    mean, std = x.mean(axis=2, keepdims=True), x.std(axis=2, keepdims=True)
    x = (x - mean) / np.where(std > 0, std, 1.0)
    return x.transpose(2, 0, 1).astype(np.float32), np.asarray(labels)


def load(name: str, seed: int) -> dict[str, tuple[torch.Tensor, np.ndarray]]:
    """``{"train"|"val"|"test": (x [T, N, F] float32, labels [N] int)}``."""
    if name in BUILTIN:
        from spikeopt.tasks.registry import make_task

        splits = make_task(name).splits(seed)
        return {k: (splits[k].x.float(), splits[k].y[:, 0].numpy()) for k in ("train", "val", "test")}
    from sklearn.model_selection import train_test_split

    x_tr, y_tr = _ucr_split(name, "TRAIN")
    x_te, y_te = _ucr_split(name, "TEST")
    classes = {c: i for i, c in enumerate(sorted(set(y_tr)))}
    y_tr = np.array([classes[c] for c in y_tr])
    y_te = np.array([classes[c] for c in y_te])
    idx_tr, idx_va = train_test_split(np.arange(len(y_tr)), test_size=0.25, random_state=seed, stratify=y_tr)
    return {
        "train": (torch.from_numpy(x_tr[:, idx_tr]), y_tr[idx_tr]),
        "val": (torch.from_numpy(x_tr[:, idx_va]), y_tr[idx_va]),
        "test": (torch.from_numpy(x_te), y_te),
    }


def logistic_raw(data) -> dict[str, float]:
    """Logistic regression on the raw flattened (z-normalised) input, C chosen on validation."""
    from sklearn.linear_model import LogisticRegression

    flat = {k: (v[0].permute(1, 0, 2).reshape(v[0].shape[1], -1).numpy(), v[1]) for k, v in data.items()}
    best = (-1.0, None)
    for c in np.geomspace(1e-3, 1e3, 13):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            clf = LogisticRegression(C=c, max_iter=2000).fit(*flat["train"])
        val = clf.score(*flat["val"])
        if val > best[0]:
            best = (val, clf)
    return {"val": best[0], "test": best[1].score(*flat["test"]), "C": float(best[1].C)}


def cvx(data, kind: str, readout: str, atoms: int, seed: int, model: ModelConfig, path: int, tol: float):
    """Grow a dictionary of ``atoms`` atoms, solve a reg path, pick reg on validation, score on test."""
    x_tr, y_tr = data["train"]
    statistic = "final" if readout == "final" else "integrate"
    block = max(model.subnetworks, -(-min(atoms, 1024) // model.width))
    block_model = ModelConfig(**{**model.__dict__, "subnetworks": block})

    def sample(b: int):
        s = block_seed(seed, b)
        if kind == "gaussian":
            return gaussian_witnesses(x_tr.shape[2], block_model, seed=s)
        return calibrated_witnesses(x_tr, block_model, statistic, seed=s)[0]

    t0 = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        d, net = fill_dictionary(sample, x_tr, atoms, readout, max_blocks=4 * -(-atoms // (block * model.width)) + 1)
    t1 = time.process_time()
    classes = int(max(y.max() for _, y in data.values())) + 1
    top = reg_max(d.atoms, y_tr, "cross_entropy", classes=classes)
    regs = top * np.geomspace(1.0, 1e-3, path)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        sols = solve_path(d.atoms, y_tr, regs, "cross_entropy", tol=tol, max_iter=3000, classes=classes)
    t2 = time.process_time()
    cols = d.source[:, 0] * net.width + d.source[:, 1]
    feats = {k: roll(net, data[k][0], readout)[:, cols].astype(np.float64) for k in ("val", "test")}
    accs = [(float(((feats["val"] @ s.coef).argmax(1) == data["val"][1]).mean()), i) for i, s in enumerate(sols)]
    best_val, i = max(accs)  # ties go to the larger index (smaller reg): max of (acc, i)
    sol = sols[i]
    test = float(((feats["test"] @ sol.coef).argmax(1) == data["test"][1]).mean())
    train = float(((d.atoms @ sol.coef).argmax(1) == y_tr).mean())
    s = d.summary()
    return {
        "witnesses": kind, "readout": readout, "atoms_target": atoms, "atoms": d.n_atoms, "blocks": d.blocks,
        "val": best_val, "test": test, "train": train, "reg_over_max": float(regs[i] / top),
        "active": int(len(sol.active)), "gap": float(sol.gap),
        "silent": s["silent_fraction"], "saturated": s["saturated_fraction"],
        "duplicate": s["duplicate_fraction"], "near_duplicate": s["near_duplicate_fraction"],
        "dictionary_cpu_s": t1 - t0, "solve_cpu_s": t2 - t1,
    }


def depth_diagnostics(data, depths: list[int], seed: int, model: ModelConfig) -> list[dict]:
    """Silent / saturated fractions of one block of raw witness neurons (no solve), per depth and kind."""
    from spikeopt.convex.dictionary import build_dictionary

    x_tr = data["train"][0]
    out = []
    for depth in depths:
        m = ModelConfig(**{**model.__dict__, "depth": depth})
        for kind, readout in (("gaussian", "final"), ("calibrated", "final"), ("calibrated", "integrate")):
            if kind == "gaussian":
                net = gaussian_witnesses(x_tr.shape[2], m, seed=seed)
            else:
                net = calibrated_witnesses(x_tr, m, readout, seed=seed)[0]
            s = build_dictionary(net, x_tr, readout).summary()
            out.append({"depth": depth, "witnesses": kind, "readout": readout, "silent": s["silent_fraction"],
                        "saturated": s["saturated_fraction"], "duplicate": s["duplicate_fraction"]})
    return out


def table(paths: list[str]) -> str:
    """A markdown table of mean test accuracy over seeds: one row per dataset, one column per configuration."""
    loaded = []
    for p in paths:  # "FILE:final" keeps the logreg rows and the CVX rows of that readout only
        path, _, readout = p.partition(":")
        loaded += [r for r in json.load(open(path))["rows"] if not readout or r.get("readout", readout) == readout]
    rows = list({(r["dataset"], r["seed"], r["method"], r.get("witnesses"), r.get("readout"), r.get("atoms_target")): r
                 for r in loaded}.values())  # a baseline run twice counts once
    summary = summarise(rows)
    cols = sorted({(s["method"], s["witnesses"], s["readout"], s["atoms"]) for s in summary},
                  key=lambda c: (c[0] != "logreg-raw", c[1], c[2], c[3]))
    names = ["logreg raw" if c[0] == "logreg-raw" else f"{c[1][:5]} {c[2][:5]} {c[3]}" for c in cols]
    lines = ["| dataset (seeds) | " + " | ".join(names) + " |", "|---" * (len(cols) + 1) + "|"]
    for ds in dict.fromkeys(s["dataset"] for s in summary):
        cells, seeds = [], 0
        for c in cols:
            hit = [s for s in summary if s["dataset"] == ds and (s["method"], s["witnesses"], s["readout"], s["atoms"]) == c]
            cells.append(f"{hit[0]['test_mean']:.3f}" + "{" + str(hit[0]["seeds"]) + "}" if hit else "")
            seeds = max([seeds] + [h["seeds"] for h in hit])
        cells = [c.replace("{" + str(seeds) + "}", "").replace("{", " (").replace("}", " seeds)") for c in cells]
        lines.append(f"| {ds} ({seeds}) | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["GunPoint"], help=f"of {BUILTIN + UCR}")
    ap.add_argument("--seeds", nargs="+", type=int, default=[0, 1, 2])
    ap.add_argument("--atoms", nargs="+", type=int, default=[512, 2048])
    ap.add_argument("--witnesses", nargs="+", default=["gaussian", "calibrated"])
    ap.add_argument("--readouts", nargs="+", default=["final", "integrate"])
    ap.add_argument("--path", type=int, default=10, help="reg values on the path")
    ap.add_argument("--tol", type=float, default=1e-4)
    ap.add_argument("--out", default=None)
    ap.add_argument("--depths", nargs="+", type=int, default=None,
                    help="only the silent/saturated fractions of one block per depth (no solve)")
    ap.add_argument("--table", nargs="+", default=None,
                    help="only print a table of these result files (FILE:final keeps one readout's CVX rows)")
    args = ap.parse_args()
    if args.table:
        print(table(args.table))
        return
    torch.set_num_threads(1)
    model = ModelConfig()  # library defaults: 16 x 32 neurons, beta 0.9, threshold 1, scale 1
    if args.depths:
        rows = []
        for name in args.datasets:
            for r in depth_diagnostics(load(name, args.seeds[0]), args.depths, args.seeds[0], model):
                rows.append({"dataset": name, **r})
                log(f"{name} depth {r['depth']:2d} {r['witnesses']:10s} {r['readout']:9s} silent {r['silent']:.2f} "
                    f"saturated {r['saturated']:.2f} duplicate {r['duplicate']:.2f}")
        if args.out:
            with open(args.out, "w") as fh:
                json.dump({"meta": run_meta(), "rows": rows}, fh, indent=1)
        return
    rows = []
    for name in args.datasets:
        for seed in args.seeds:
            data = load(name, seed)
            shape = tuple(data["train"][0].shape)
            base = logistic_raw(data)
            rows.append({"dataset": name, "seed": seed, "method": "logreg-raw", **base})
            log(f"{name} seed {seed} train {shape}: logreg test {base['test']:.3f}")
            for readout in args.readouts:
                for kind in args.witnesses:
                    for atoms in args.atoms:
                        r = cvx(data, kind, readout, atoms, seed, model, args.path, args.tol)
                        rows.append({"dataset": name, "seed": seed, "method": "cvx", **r})
                        save(args.out, rows)  # after every configuration: a killed run keeps what it did
                        log(f"  {kind:10s} {readout:9s} {atoms:5d}: test {r['test']:.3f} val {r['val']:.3f} "
                            f"train {r['train']:.3f} silent {r['silent']:.2f} sat {r['saturated']:.2f} "
                            f"dict {r['dictionary_cpu_s']:.1f}s solve {r['solve_cpu_s']:.1f}s")
    print(json.dumps(summarise(rows), indent=1))
    save(args.out, rows)


def save(path: str | None, rows: list[dict]) -> None:
    if path:
        with open(path + ".tmp", "w") as fh:
            json.dump({"meta": run_meta(), "rows": rows, "summary": summarise(rows)}, fh, indent=1)
        os.replace(path + ".tmp", path)


def summarise(rows: list[dict]) -> list[dict]:
    """Mean test accuracy (and silent fraction) over seeds per dataset and configuration."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        key = (r["dataset"], r["method"], r.get("witnesses", ""), r.get("readout", ""), r.get("atoms_target", 0))
        groups.setdefault(key, []).append(r)
    out = []
    for (ds, method, kind, readout, atoms), rs in groups.items():
        out.append({
            "dataset": ds, "method": method, "witnesses": kind, "readout": readout, "atoms": atoms,
            "test_mean": float(np.mean([r["test"] for r in rs])), "test_std": float(np.std([r["test"] for r in rs])),
            "silent_mean": float(np.mean([r.get("silent", 0.0) for r in rs])),
            "saturated_mean": float(np.mean([r.get("saturated", 0.0) for r in rs])), "seeds": len(rs),
        })
    return out


if __name__ == "__main__":
    main()
