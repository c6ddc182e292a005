"""How tightly must a cross-validation fold be solved? Fold scores and their cost at several tolerances.

    python benchmarks/cv_tolerance.py --suites ucr-PLAID ucr-ACSF1 ucr-JapaneseVowels events --seeds 0

On small data sets ``spikeopt train --method cvx`` scores each reg of its path by 5-fold cross-validation
on the training dictionary (``convex/cv.py``): five more solves per point, most of a run's time (PLAID:
about 240 of 333 s). A fold only *scores*; its readout is thrown away and carries no certificate. The
question: does solving the folds to the main solve's gap (1e-6) change what they score, against a
looser gap?

For each suite and seed this builds the default CVX dictionary exactly as the pipeline does
(``readout_features.witnesses_for``), takes the ``auto`` path (8 points from reg_max, plus 3 points
continuing it downward as the pipeline's extension may), and runs :class:`~spikeopt.convex.cv.FoldPath`
over the path once per tolerance, warm-started down the path as the pipeline does. It records per point
the held-out correct count and summed loss, the fold CPU time (one thread), and which point the
pipeline's selection rule picks from the fold scores alone (best accuracy, ties to the lower held-out
loss, then the larger reg; the validation split's part of the pooled score does not depend on the folds'
tolerance).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _meta import run_meta  # noqa: E402
from accuracy import suite_spec  # noqa: E402
from readout_features import witnesses_for  # noqa: E402

HERE = Path(__file__).resolve().parent


def pick(scores: list[dict]) -> int:
    """The selection rule of ``convex/path.py`` on fold scores: accuracy, then lower loss, then larger reg."""
    return min(range(len(scores)), key=lambda i: (-scores[i]["correct"], scores[i]["loss_sum"], i))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--suites", nargs="+", default=["ucr-PLAID", "ucr-ACSF1", "ucr-JapaneseVowels", "events"])
    ap.add_argument("--seeds", nargs="+", type=int, default=[0])
    ap.add_argument("--tols", nargs="+", type=float, default=[1e-6, 1e-5, 1e-4])
    ap.add_argument("--out", default=str(HERE / "results" / "cv_tolerance.json"))
    args = ap.parse_args(argv)
    import torch

    torch.set_num_threads(1)
    from spikeopt.convex.cv import CV_FOLDS, FoldPath
    from spikeopt.convex.dictionary import LAYOUT_OF_READOUT, build_dictionary
    from spikeopt.convex.path import auto_regs
    from spikeopt.convex.solver import reg_max
    from spikeopt.experiments.run import write_json
    from spikeopt.snn.config import ModelConfig
    from spikeopt.tasks import make_task
    from spikeopt.train.convex_config import ConvexConfig
    from spikeopt.train.convex_stage import _problem

    cfg = ConvexConfig()
    results = []
    for suite in args.suites:
        task_name, options, _ = suite_spec(suite)
        task = make_task(task_name, **options)
        for seed in args.seeds:
            train = task.splits(seed)["train"]
            witnesses = witnesses_for(task, train, seed)
            layout = LAYOUT_OF_READOUT[ModelConfig.recommended().resolve_readout(task.readout)]
            D = build_dictionary(witnesses, train.x, layout).atoms
            prob = _problem(task, train, layout, cfg.loss, cfg.intercept)
            regs = auto_regs(reg_max(D, prob.y, prob.loss, sample_weight=prob.weights, intercept=prob.intercept))
            ratio = regs[-1] / regs[-2]
            regs = list(regs) + [regs[-1] * ratio ** k for k in (1, 2, 3)]
            print(f"{suite} seed {seed}: {D.shape[0]} rows x {D.shape[1]} atoms, {len(regs)} regs", flush=True)
            by_tol = {}
            for tol in args.tols:
                folds = FoldPath(D, prob.labels[:, 0], prob.y, prob.loss, prob.intercept, CV_FOLDS, seed, tol,
                                 cfg.max_iter)
                points = []
                for reg in regs:
                    c0 = time.process_time()
                    f = folds.score(reg)
                    points.append({"reg": reg, "correct": f.correct, "rows": f.rows, "loss_sum": f.loss_sum,
                                   "max_gap": f.max_gap, "converged": f.converged,
                                   "cpu_s": time.process_time() - c0})
                cpu = sum(p["cpu_s"] for p in points)
                chosen = pick(points)
                by_tol[repr(tol)] = {"points": points, "cpu_s": cpu, "chosen": chosen}
                print(f"  tol {tol:.0e}: fold CPU {cpu:7.1f} s, chosen reg {regs[chosen]:.2e} "
                      f"(correct {points[chosen]['correct']}/{points[chosen]['rows']}), correct per point "
                      f"{[p['correct'] for p in points]}", flush=True)
            ref = by_tol[repr(args.tols[0])]["points"]
            for tol in args.tols[1:]:
                pts = by_tol[repr(tol)]["points"]
                diff = max(abs(a["correct"] - b["correct"]) for a, b in zip(ref, pts))
                dloss = max(abs(a["loss_sum"] - b["loss_sum"]) / a["rows"] for a, b in zip(ref, pts))
                print(f"  tol {tol:.0e} vs {args.tols[0]:.0e}: largest change in correct rows {diff}, in mean "
                      f"held-out loss {dloss:.2e}; CPU ratio "
                      f"{by_tol[repr(args.tols[0])]['cpu_s'] / by_tol[repr(tol)]['cpu_s']:.2f}x", flush=True)
            results.append({"suite": suite, "seed": seed, "shape": list(D.shape), "regs": regs, "tols": by_tol})
    write_json({"command": " ".join(sys.argv), "meta": run_meta(suites=args.suites, seeds=args.seeds),
                "results": results}, Path(args.out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
