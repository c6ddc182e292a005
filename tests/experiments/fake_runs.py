"""Fake run functions for sweep tests: metrics follow from the config, no training.

Imported by name in spawned worker processes (the test puts this folder on sys.path).
"""

from __future__ import annotations

import os
from pathlib import Path

from spikeopt.experiments.config import RunConfig


def scored_run(config: RunConfig) -> dict:
    """val = -(x - best)^2 with best = 2 + seed; test = 10 x + seed; fails when x == 'bad'."""
    opts = config.task_options
    x = opts.get("x", 0)
    if x == "bad":
        raise ValueError("this grid point is broken on purpose")
    if "log" in opts:
        with open(opts["log"], "a") as fh:
            fh.write(f"{config.key()}\n")
    crash = opts.get("crash_at")
    if crash is not None and x == crash and not Path(opts["marker"]).exists():
        Path(opts["marker"]).write_text("crashed once")
        if opts.get("crash_with") == "interrupt":
            raise KeyboardInterrupt
        os._exit(3)  # the worker process dies without a word
    best = 2 + config.seed
    return {"metrics": {"val": {"score": -float((x - best) ** 2)}, "test": {"score": 10.0 * x + config.seed}},
            "timings": {"train_s": 0.0}}


def paper_run(config: RunConfig) -> dict:
    """Plausible metrics for every split and method the reproduction suites read."""
    o, m = config.task_options, config.method
    bonus = 0.1 if "cvx" in m else 0.0
    acc = min(1.0, 0.5 + bonus + 0.01 * config.model.depth + 0.001 * (config.seed + 1))
    if config.task == "addition":
        keys = ["test", "val", *(f"ood_{f}x" for f in (2, 5, 10))]
        metrics = {k: {"joint_token_accuracy": acc - 0.01 * i, "joint_sequence_accuracy": acc / 2}
                   for i, k in enumerate(keys)}
        direct = o.get("mode") == "direct"  # direct mode: one more point of sum-token accuracy, a later first error
        for k in keys:
            metrics[k].update({"sum_token_accuracy": acc + 0.01 * direct, "first_error_step": 2.0 + direct})
            if direct:
                del metrics[k]["joint_token_accuracy"]
        val_key = "val_joint_token_accuracy"
    else:
        metrics = {k: {"accuracy": acc} for k in ("train", "val", "test")}
        val_key = "val_accuracy"
    out: dict = {"metrics": metrics, "timings": {"train_s": 0.01}, "lambda": o.get("lambda_carry")}
    if "cvx" in m:
        out["certificate"] = {"primal": 0.5, "dual": 0.5 - 1e-7, "gap": 1e-7, "converged": True}
    if m.startswith("sg"):
        out["history"] = {"sg": {"records": [{"epoch": e, "train_loss": 1.0 / (e + 1), val_key: acc * e / 3}
                                             for e in range(4)]}}
    return out


def slow_paper_run(config: RunConfig) -> dict:
    """``paper_run``, but runs with more than 2 subnetworks sleep while ``$SPIKEOPT_TEST_DIR/slow``
    exists (announcing ``sleeping-<pid>`` first); finished runs append their key to ``log``."""
    import time

    folder = Path(os.environ["SPIKEOPT_TEST_DIR"])
    if config.model.subnetworks > 2 and (folder / "slow").exists():
        (folder / f"sleeping-{os.getpid()}").write_text(config.key())
        while (folder / "slow").exists():
            time.sleep(0.2)
    result = paper_run(config)
    with open(folder / "log", "a") as fh:
        fh.write(f"{config.key()}\n")
    return result
