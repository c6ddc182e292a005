"""The ``spikeopt`` command: train, list tasks, certify convex solutions.

Task options become flags of their own once ``--task`` is known (``spikeopt train --task addition
--base 3 --help`` lists them); every other setting has a flag or can be set with ``--set a.b=v``.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
from typing import Any

from spikeopt.experiments.config import RunConfig, parse_value

METHOD_NAMES = ("sg", "cvx", "sg-cvx", "sg-sg", "cvx-sg", "admm", "sast")

# flag -> (config path, type, help)
_FLAGS: dict[str, tuple[str, Any, str]] = {
    "--subnetworks": ("model.subnetworks", int, "parallel subnetworks K"),
    "--width": ("model.width", int, "LIF neurons per hidden layer"),
    "--depth": ("model.depth", int, "hidden LIF layers per subnetwork"),
    "--beta": ("model.beta", float, "membrane leak beta in [0, 1]"),
    "--threshold": ("model.threshold", float, "firing threshold theta > 0"),
    "--reset": ("model.reset_mechanism", str, "reset mechanism: subtract, zero or none"),
    "--surrogate": ("model.surrogate", str, "surrogate: atan, sigmoid, fast_sigmoid, triangle, straight_through"),
    "--slope": ("model.slope", float, "surrogate slope (default: the surrogate's own)"),
    "--epochs": ("sg.epochs", int, "SG training epochs"),
    "--lr": ("sg.lr", float, "SG learning rate (Adam)"),
    "--batch-size": ("sg.batch_size", int, "SG minibatch size"),
    "--weight-decay": ("sg.weight_decay", float, "SG weight decay (L2 coefficient)"),
    "--grad-clip": ("sg.grad_clip", float, "gradient-norm clipping (SG)"),
    "--patience": ("sg.patience", int, "early-stopping patience in epochs (SG)"),
    "--ft-epochs": ("finetune.epochs", int, "fine-tuning epochs (sg-sg, cvx-sg)"),
    "--ft-lr": ("finetune.lr", float, "fine-tuning learning rate"),
    "--reg": ("convex.reg", float, "group-lasso regularisation of the convex readout"),
    "--loss": ("convex.loss", str, "convex loss: cross_entropy or squared"),
    "--tol": ("convex.tol", float, "duality-gap tolerance of the convex solve"),
    "--witness-scale": ("convex.witness_scale", float, "std scale of Gaussian witnesses"),
    "--admm-rho": ("admm.rho", float, "ADMM penalty rho of the exact dynamics constraint"),
    "--admm-sigma": ("admm.sigma", float, "ADMM weight sigma of the soft z/a constraints"),
    "--admm-delta": ("admm.delta", float, "ADMM membrane leak delta"),
    "--admm-theta": ("admm.theta", float, "ADMM firing threshold theta"),
    "--admm-epsilon": ("admm.epsilon", float, "ADMM z-minimiser margin epsilon above threshold"),
    "--admm-iterations": ("admm.iterations", int, "ADMM iterations"),
    "--admm-warmup": ("admm.warmup", int, "ADMM warm-up iterations without multiplier updates"),
    "--admm-shards": ("admm.shards", int, "ADMM data shards for the weight-update sums"),
    "--rho": ("sast.rho", float, "SAST: SAM perturbation radius rho (0 = plain surrogate-forward training)"),
    "--sam-optimizer": ("sast.optimizer", str, "SAST base optimizer: adam or sgd"),
    "--momentum": ("sast.momentum", float, "SAST: SGD momentum"),
    "--drop-fraction": ("sast.drop_fraction", float, "SAST evaluation: fraction of events dropped"),
    "--noise-fraction": ("sast.noise_fraction", float, "SAST evaluation: noise events added, as a fraction"),
    "--jitter-us": ("sast.jitter_us", float, "SAST evaluation: timestamp jitter std in microseconds"),
    "--noise-std": ("sast.noise_std", float, "SAST evaluation: Gaussian input noise std (dense tasks)"),
}

# With --method sast, the SG training flags set the SAST section instead.
_SAST_SHARED = {"sg.epochs": "sast.epochs", "sg.lr": "sast.lr", "sg.batch_size": "sast.batch_size",
                "sg.weight_decay": "sast.weight_decay", "sg.grad_clip": "sast.grad_clip"}


def _task_class(name: str):
    from spikeopt.tasks.registry import task_class

    return task_class(name)


def _field_help(f: dataclasses.Field) -> str:
    default = f.default if f.default is not dataclasses.MISSING else (
        f.default_factory() if f.default_factory is not dataclasses.MISSING else None  # type: ignore[misc]
    )
    return f"{f.metadata.get('help', '')} (default: {default})"


def _add_task_options(parser: argparse.ArgumentParser, task: str) -> None:
    from spikeopt.tasks.base import option_fields

    group = parser.add_argument_group(f"options of task {task!r}")
    for f in option_fields(_task_class(task)):
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=f"task__{f.name}", type=parse_value,
                           default=argparse.SUPPRESS, help=_field_help(f))


def _train_parser(task: str | None) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="spikeopt train", description="Train one model and write its result as JSON.")
    p.add_argument("--config", help="YAML run config to start from")
    p.add_argument("--task", default=None, help="task name (see `spikeopt tasks`)")
    p.add_argument("--method", default=None, help=f"training method: {', '.join(METHOD_NAMES)}")
    p.add_argument("--seed", type=int, default=None, help="random seed (data splits, init, witnesses)")
    p.add_argument("--device", default=None, help="cpu, cuda or auto (default: auto)")
    for flag, (_, typ, text) in _FLAGS.items():
        p.add_argument(flag, type=typ, default=None, help=text)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config field, e.g. --set convex.intercept=true")
    p.add_argument("--out", help="write the JSON result here")
    p.add_argument("--save", help="save the trained model to this file")
    p.add_argument("--sam-two-batches", action="store_true",
                   help="SAST: ascent and descent gradients on two independent minibatches")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    if task is not None:
        _add_task_options(p, task)
    return p


def build_config(args: argparse.Namespace) -> RunConfig:
    config = RunConfig.from_yaml(args.config) if args.config else RunConfig()
    sets: list[str] = []
    for key in ("task", "method", "seed", "device"):
        if getattr(args, key) is not None:
            sets.append(f"{key}={getattr(args, key)}")
    sast = (args.method or config.method) == "sast"
    for flag, (path, _, _) in _FLAGS.items():
        value = getattr(args, flag.lstrip("-").replace("-", "_"))
        if value is not None:
            sets.append(f"{_SAST_SHARED.get(path, path) if sast else path}={value}")
    if getattr(args, "sam_two_batches", False):
        sets.append("sast.two_batches=true")
    if args.no_progress:
        sets += ["sg.progress=false", "finetune.progress=false", "admm.progress=false", "sast.progress=false"]
    config = config.override(sets + list(args.set))
    task_opts = {k[len("task__"):]: v for k, v in vars(args).items() if k.startswith("task__")}
    if args.task is not None and args.config and args.task != RunConfig.from_yaml(args.config).task:
        config.task_options = {}
    config.task_options.update(task_opts)
    return config


def _format_metrics(metrics: dict[str, dict[str, float]]) -> str:
    """A table with one row per metric and one column per split."""
    keys: list[str] = []
    for m in metrics.values():
        keys += [k for k in m if k not in keys]
    name_w = max(len(k) for k in keys) + 2
    col_w = max(10, *(len(s) + 2 for s in metrics))
    lines = ["metric".ljust(name_w) + "".join(s.rjust(col_w) for s in metrics)]
    for k in keys:
        lines.append(k.ljust(name_w) + "".join(
            (f"{m[k]:.4f}" if k in m else "-").rjust(col_w) for m in metrics.values()))
    return "\n".join(lines)


def cmd_train(argv: list[str]) -> int:
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--task")
    pre.add_argument("--config")
    known, _ = pre.parse_known_args(argv)
    task = known.task or (RunConfig.from_yaml(known.config).task if known.config else RunConfig().task)
    args = _train_parser(task).parse_args(argv)
    config = build_config(args)
    from spikeopt.experiments.run import run, write_json

    result = run(config, save=args.save)
    print(f"task {config.task}  method {config.method}  seed {config.seed}  device {result['device']}")
    print(_format_metrics(result["metrics"]))
    if "certificate" in result:
        c = result["certificate"]
        print(f"certificate: primal {c['primal']:.6f}  dual {c['dual']:.6f}  gap {c['gap']:.2e}  "
              f"({'converged' if c['converged'] else 'NOT converged'})")
        r = result["reconstruction"]
        print(f"dictionary atoms {result['dictionary']['atoms']}  active {r['active_atoms']}  "
              f"subnetworks {r['subnetworks']}  (Caratheodory bound {r['caratheodory_bound']})")
    if "sast" in result:
        a = result["sast"]
        print(f"SAST rho {a['rho']}: hard-spike {a['hard_accuracy']:.4f}  surrogate-forward {a['clean_accuracy']:.4f}  "
              f"transfer gap {a['transfer_gap']:+.4f}  overhead {a['overhead']:.2f}x")
    if "admm" in result and result["admm"].get("lagrangian"):
        a = result["admm"]
        print(f"ADMM {a['iteration'][-1]} iterations: lagrangian {a['lagrangian'][-1]:.4g}  "
              f"primal residual {a['primal_residual'][-1]:.3g}  spiking train accuracy {a['train_accuracy'][-1]:.4f}")
    print("timings: " + "  ".join(f"{k} {v:.1f}s" for k, v in result["timings"].items()))
    if args.out:
        write_json(result, args.out)
        print(f"result written to {args.out}")
    return 0


def cmd_tasks(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="spikeopt tasks", description="List the tasks and their options.").parse_args(argv)
    from spikeopt.tasks.base import option_fields
    from spikeopt.tasks.registry import task_names

    for name in task_names():
        cls = _task_class(name)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        print(f"{name}  (readout: {cls.readout})  {doc}")
        for f in option_fields(cls):
            print(f"    --{f.name.replace('_', '-'):<18} {_field_help(f)}")
    return 0


def cmd_certify(argv: list[str]) -> int:
    """The paper's Table 1: CVX test accuracy and certificate for several subnetwork counts."""
    pre = argparse.ArgumentParser(add_help=False)
    pre.add_argument("--task", default="first-last-xor")
    known, _ = pre.parse_known_args(argv)
    p = _train_parser(known.task)
    p.prog = "spikeopt certify"
    p.description = "Solve the convex readout for several numbers of subnetworks and print the certificates."
    p.add_argument("--counts", type=parse_value, default=[2, 16, 32, 64], help="subnetwork counts (default 2,16,32,64)")
    args = p.parse_args(argv)
    if args.method not in (None, "cvx", "sg-cvx"):
        raise ValueError("certify runs a convex method: --method cvx (default) or sg-cvx")
    args.task = known.task
    args.method = args.method or "cvx"
    counts = [int(c) for c in (args.counts if isinstance(args.counts, list) else [args.counts])]
    from spikeopt.experiments.run import run, write_json

    base = build_config(args)
    rows = []
    print(f"{'K':>4} {'test acc':>9} {'primal':>12} {'dual':>12} {'abs gap':>10} {'atoms':>6} {'active':>6}")
    for k in counts:
        result = run(base.override([f"model.subnetworks={k}", "convex.atoms=null"]))  # K subnetworks, one block
        c, test = result["certificate"], result["metrics"]["test"]
        rows.append({"subnetworks": k, "test": test, **c, "atoms": result["dictionary"]["atoms"],
                     "active": result["reconstruction"]["active_atoms"]})
        print(f"{k:>4} {next(iter(test.values())):>9.4f} {c['primal']:>12.6f} {c['dual']:>12.6f} "
              f"{c['gap']:>10.2e} {rows[-1]['atoms']:>6} {rows[-1]['active']:>6}")
    if args.out:
        write_json({"config": base.to_dict(), "rows": rows}, args.out)
        print(f"result written to {args.out}")
    return 0


def cmd_results(argv: list[str]) -> int:
    from spikeopt.experiments.commands import cmd_results as run_results

    return run_results(argv)


def cmd_reproduce(argv: list[str]) -> int:
    from spikeopt.experiments.commands import cmd_reproduce as run_reproduce

    return run_reproduce(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"train": cmd_train, "tasks": cmd_tasks, "certify": cmd_certify,
                "results": cmd_results, "reproduce": cmd_reproduce}
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print("usage: spikeopt {" + ",".join(commands) + "} [options]\n\n"
              "  train    train one model on a task with a method and write a JSON result\n"
              "  tasks    list the tasks and their options\n"
              "  certify  convex readouts for several subnetwork counts: accuracy, primal, dual, gap\n"
              "  results  query a sweep's run database and export it as CSV or JSON\n"
              "  reproduce  run the paper's Tables 1-6 (--quick/--full, --only tableN) into a report\n\n"
              "`spikeopt <command> --help` shows a command's options.")
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nerror: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    try:
        return commands[argv[0]](argv[1:])
    except (ValueError, TypeError, FileNotFoundError, MemoryError) as err:
        print(f"spikeopt: error: {err}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
