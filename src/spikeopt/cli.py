"""The ``spikeopt`` command: train, list tasks, certify convex solutions, export and plot.

Task options become flags of their own once ``--task`` is known (``spikeopt train --task addition
--base 3 --help`` lists them); every other setting has a flag or can be set with ``--set a.b=v``.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shlex
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # imported lazily: `spikeopt --help` must not pay for torch
    from spikeopt.experiments.config import RunConfig

# The model section's flags: ModelConfig (snn/config.py) carries no flag metadata, so they are listed here.
_MODEL_FLAGS: dict[str, tuple[str, Any, str]] = {
    "--subnetworks": ("subnetworks", int, "parallel subnetworks K"),
    "--width": ("width", int, "LIF neurons per hidden layer"),
    "--depth": ("depth", int, "hidden LIF layers per subnetwork"),
    "--beta": ("beta", float, "membrane leak beta in [0, 1]"),
    "--threshold": ("threshold", float, "firing threshold theta > 0"),
    "--reset": ("reset_mechanism", str, "reset mechanism: subtract, zero or none"),
    "--surrogate": ("surrogate", str, "surrogate: atan, sigmoid, fast_sigmoid, triangle, straight_through"),
    "--slope": ("slope", float, "surrogate slope (default: the surrogate's own)"),
}

# Every other section's flags come from its config fields (``spikeopt.train.base.option``): the
# section's prefix + the field's flag name, the field's help with who reads it.
_SECTION_FLAGS = {"sg": ("", "SG"), "finetune": ("ft-", "fine-tuning (sg-sg, cvx-sg):"), "convex": ("", ""),
                  "admm": ("admm-", "ADMM"), "sast": ("", "SAST:"),
                  "stages": ("", "")}


@dataclasses.dataclass(frozen=True)
class Flag:
    """One generated option of ``spikeopt train``: ``--name`` sets config ``path``."""

    name: str
    path: str
    type: Any
    help: str


def train_flags(defaults: Any) -> list[Flag]:
    """The config flags of ``spikeopt train`` with their defaults in the help; ``defaults`` a RunConfig.

    With ``--method sast`` a flag of the ``sg`` section whose field SAST also has (epochs, lr, ...)
    sets the ``sast`` section instead (:func:`_section_path`)."""
    flags = [Flag(flag, f"model.{name}", typ, f"{text} (default: {getattr(defaults.model, name)})")
             for flag, (name, typ, text) in _MODEL_FLAGS.items()]
    for section, (prefix, label) in _SECTION_FLAGS.items():
        config = getattr(defaults, section)
        for f in dataclasses.fields(config):
            if not f.metadata.get("flag"):
                continue
            default = getattr(config, f.name)
            text = f"{label} {f.metadata['help']} (default: {default}".lstrip()
            shared = _sast_path(f"{section}.{f.name}")
            if shared != f"{section}.{f.name}":
                text += f"; with --method sast: {_default_at(defaults, shared)}"
            typ = f.metadata.get("type") or type(default)
            flags.append(Flag(f"--{prefix}{f.metadata['flag']}", f"{section}.{f.name}", typ, text + ")"))
    names = [f.name for f in flags]
    assert len(names) == len(set(names)), f"two config fields claim the same flag: {names}"
    return flags


def _yes_no(text: str) -> bool:
    """A boolean flag's value: true/false, yes/no, on/off or 1/0 (``bool("false")`` would be True)."""
    value = {"true": True, "yes": True, "on": True, "1": True, "false": False, "no": False, "off": False, "0": False}
    if text.lower() not in value:
        raise argparse.ArgumentTypeError(f"expected true or false, got {text!r}")
    return value[text.lower()]


def _sast_path(path: str) -> str:
    """Where an ``sg`` flag goes under ``--method sast``: the SAST field of the same name, if any."""
    from spikeopt.train.sast_config import SASTConfig

    section, name = path.split(".", 1)
    if section == "sg" and name in {f.name for f in dataclasses.fields(SASTConfig)}:
        return f"sast.{name}"
    return path


class Interrupted(Exception):
    """Ctrl-C inside a command; ``saved`` says what is on disk (main prints it with the resume command)."""

    def __init__(self, saved: str) -> None:
        super().__init__(saved)
        self.saved = saved


def _parse_value(raw: str) -> Any:
    from spikeopt.experiments.config import parse_value

    return parse_value(raw)


def _parse_list(raw: str) -> Any:
    value = _parse_value(raw)
    return value if isinstance(value, list) else [value]


def _default_at(config: Any, path: str) -> Any:
    node = config
    for part in path.split("."):
        node = getattr(node, part)
    return node


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
        default = f.default if f.default is not dataclasses.MISSING else None
        listed = isinstance(default, (list, tuple))  # `--ood-factors 2` means the list [2]
        group.add_argument(f"--{f.name.replace('_', '-')}", dest=f"task__{f.name}",
                           type=_parse_list if listed else _parse_value,
                           default=argparse.SUPPRESS, help=_field_help(f))


def _train_parser(task: str | None) -> argparse.ArgumentParser:
    from spikeopt.experiments.config import RunConfig
    from spikeopt.train.registry import METHOD_NAMES

    defaults = RunConfig()
    p = argparse.ArgumentParser(prog="spikeopt train", description="Train one model and write its result as JSON.")
    p.add_argument("--config", help="YAML run config to start from (see examples/*.yaml)")
    p.add_argument("--task", default=None, help=f"task name (see `spikeopt tasks`; default: {defaults.task})")
    p.add_argument("--method", default=None,
                   help=f"training method: {', '.join(METHOD_NAMES)} (default: {defaults.method}; "
                        "`spikeopt tasks` lists the tasks each supports)")
    p.add_argument("--seed", type=int, default=None, help="random seed (data splits, init, witnesses; default: 0)")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or auto (default: auto)")
    for flag in train_flags(defaults):
        p.add_argument(flag.name, type=_yes_no if flag.type is bool else flag.type, default=None, help=flag.help)
    p.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                   help="override any config field, e.g. --set convex.intercept=true")
    p.add_argument("--out", help="write the JSON result here")
    p.add_argument("--save", help="save the trained model to this file")
    p.add_argument("--checkpoint", metavar="PATH", default=None,
                   help="SG, fine-tuning, SAST: write the training state to PATH after every epoch (PATH.finetune "
                        "for the fine-tuning stage); ADMM: every admm.checkpoint_every iterations")
    p.add_argument("--resume", action="store_true",
                   help="continue from --checkpoint PATH where a killed run stopped (starts afresh if it is absent)")
    p.add_argument("--tensorboard", metavar="DIR", default=None,
                   help="also write the training curves as TensorBoard scalars to DIR (needs tensorboard)")
    p.add_argument("--allow-unconverged", action="store_true",
                   help="keep a convex solve that stopped short of --tol (gap recorded) instead of refusing it")
    p.add_argument("--sam-two-batches", action="store_true",
                   help="SAST: ascent and descent gradients on two independent minibatches")
    p.add_argument("--no-progress", action="store_true", help="hide progress bars")
    if task is not None:
        _add_task_options(p, task)
    return p


def build_config(args: argparse.Namespace) -> RunConfig:
    from spikeopt.experiments.config import RunConfig, progress_off

    config = RunConfig.from_yaml(args.config) if args.config else RunConfig()
    sets: list[str] = []
    for key in ("task", "method", "seed", "device"):
        if getattr(args, key) is not None:
            sets.append(f"{key}={getattr(args, key)}")
    sast = (args.method or config.method) == "sast"
    admm = (args.method or config.method) == "admm"
    for flag in train_flags(RunConfig()):
        value = getattr(args, flag.name.lstrip("-").replace("-", "_"))
        if value is not None:
            sets.append(f"{_sast_path(flag.path) if sast else flag.path}={value}")
    if getattr(args, "allow_unconverged", False):
        sets.append("convex.allow_unconverged=true")
    if getattr(args, "sam_two_batches", False):
        sets.append("sast.two_batches=true")
    if getattr(args, "checkpoint", None):
        if (args.method or config.method) == "cvx":
            raise ValueError("--checkpoint covers the SG, fine-tuning, SAST and ADMM training loops (methods sg, "
                             "sg-sg, sg-cvx, cvx-sg, sast, admm); the convex solve keeps no mid-run checkpoints")
        sets += [f"sast.checkpoint={args.checkpoint}"] if sast else [f"admm.checkpoint={args.checkpoint}"] if admm else [
            f"sg.checkpoint={args.checkpoint}", f"finetune.checkpoint={args.checkpoint}.finetune"]
    if getattr(args, "resume", False):
        if not getattr(args, "checkpoint", None):
            raise ValueError("--resume continues from --checkpoint PATH: give the checkpoint path too")
        sets += ["sast.resume=true"] if sast else ["admm.resume=true"] if admm else ["sg.resume=true", "finetune.resume=true"]
    if args.no_progress:
        sets += progress_off()
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
    from spikeopt.experiments.config import RunConfig

    task = known.task or (RunConfig.from_yaml(known.config).task if known.config else RunConfig().task)
    args = _train_parser(task).parse_args(argv)
    config = build_config(args)
    from spikeopt.experiments.outputs import check_distinct, check_output_file
    from spikeopt.experiments.run import check_run, run, write_json

    for flag in ("out", "save"):  # fail now, not after the training
        if getattr(args, flag):
            check_output_file(getattr(args, flag), f"--{flag}")
    check_distinct({"--out": args.out, "--save": args.save})
    check_run(config)
    from spikeopt.experiments.metric_logs import (
        check_tensorboard,
        write_metric_csvs,
        write_tensorboard,
    )

    if args.tensorboard:
        check_tensorboard()
    try:
        result = run(config, save=args.save)
    except KeyboardInterrupt:
        raise Interrupted("nothing was saved (a run keeps no partial state)") from None
    logs = []
    if args.out:  # before printing: a printing problem must not lose the result
        write_json(result, args.out)
        logs = write_metric_csvs(result, args.out)
    if args.tensorboard:
        write_tensorboard(result, args.tensorboard)
    print(f"task {config.task}  method {config.method}  seed {config.seed}  device {result['device']}")
    print(_format_metrics(result["metrics"]))
    if "certificate" in result:
        c = result["certificate"]
        if len(result.get("path", [])) > 1:
            by = "cross-validation" if result.get("selection", {}).get("mode") == "cv" else "validation"
            print(f"reg path ({by}-selected *):")
            for p in result["path"]:
                val = next(iter(p["val"].values())) if p["val"] else float("nan")
                print(f"  {'*' if p['selected'] else ' '} reg {p['reg']:.3e}  train {next(iter(p['train'].values())):.4f}  "
                      f"val {val:.4f}  " + (f"cv {p['cv']['accuracy']:.4f}  " if p.get("cv") else "")
                      + f"active {p['active_atoms']}  gap {p['gap']:.1e}"
                      f"{'' if p['converged'] else '  NOT converged'}{'' if p['eligible'] else ' (excluded)'}")
        print(f"certificate: reg {c['reg']:.3e}  primal {c['primal']:.6f}  dual {c['dual']:.6f}  gap {c['gap']:.2e}  "
              f"({'converged' if c['converged'] else 'NOT converged'}): {c.get('statement', '')}")
        refit = result.get("refit")
        if refit and refit["used"]:
            held = (refit.get("held_out") or {}).get("accuracy")
            print(f"refit: reg {refit['reg']:.3e} re-solved on train + val ({refit['train_sequences']} + "
                  f"{refit['val_sequences']} sequences), so the val metrics above are in-sample"
                  + (f"; held-out estimate {held:.4f}" if held is not None else ""))
        elif refit:
            print(f"refit not used: {refit['reason']}")
        r = result["reconstruction"]
        print(f"dictionary atoms {result['dictionary']['atoms']}  active {r['active_atoms']}  "
              f"subnetworks {r['subnetworks']}  (Caratheodory bound {r['caratheodory_bound']})")
    if "sast" in result:
        a = result["sast"]
        print(f"SAST rho {a['rho']}: hard-spike {a['hard_accuracy']:.4f}  surrogate-forward {a['clean_accuracy']:.4f}  "
              f"transfer gap {a['transfer_gap']:+.4f}  overhead "
              f"{'not measured' if a.get('overhead') is None else format(a['overhead'], '.2f') + 'x'}")
    if "admm" in result and result["admm"].get("lagrangian"):
        a = result["admm"]
        print(f"ADMM {a['iteration'][-1]} iterations: lagrangian {a['lagrangian'][-1]:.4g}  "
              f"primal residual {a['primal_residual'][-1]:.3g}  spiking train accuracy {a['train_accuracy'][-1]:.4f}")
    so = result["synops"]
    print(f"SynOps per sample {so['synops_per_sample']['total']:.4g} ({so['synops_per_sample_step']:.4g} per step), "
          f"spikes per sample {sum(so['spikes_per_sample'].values()):.4g}, energy "
          f"{so['energy_pj_per_sample']['total'] / 1e3:.4g} nJ (dense equivalent "
          f"{so['energy_pj_per_sample']['dense_equivalent'] / 1e3:.4g} nJ; 45 nm, Horowitz 2014)")
    print("timings: " + "  ".join(f"{k} {v:.1f}s" for k, v in result["timings"].items()))
    if args.out:
        print(f"result written to {args.out}" + (f"; curves in {', '.join(str(p) for p in logs)}" if logs else ""))
    if args.save:
        print(f"model saved to {args.save}")
    return 0


def cmd_tasks(argv: list[str]) -> int:
    argparse.ArgumentParser(prog="spikeopt tasks", description="List the tasks and their options.").parse_args(argv)
    from spikeopt.tasks.base import option_fields
    from spikeopt.tasks.registry import task_names
    from spikeopt.train.registry import methods_for

    for name in task_names():
        cls = _task_class(name)
        doc = (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""
        print(f"{name}  (readout: {cls.readout})  {doc}")
        print(f"    methods: {', '.join(methods_for(cls.readout))}")
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
    p.add_argument("--counts", type=_parse_value, default=[2, 16, 32, 64], help="subnetwork counts (default 2,16,32,64)")
    p.add_argument("--complete", action="store_true", help="tiny problems: the complete dictionary's global optimum "
                   "beside the sampled dictionary's and an SG network's objective (depth 1)")
    p.add_argument("--max-cells", type=int, default=200_000, help="--complete: stop the enumeration beyond this many cells")
    args = p.parse_args(argv)
    if args.method not in (None, "cvx", "sg-cvx"):
        raise ValueError("certify runs a convex method: --method cvx (default) or sg-cvx")
    args.task = known.task
    args.method = args.method or "cvx"
    from spikeopt.experiments.outputs import check_output_file
    from spikeopt.experiments.protocol import PAPER_NETWORK, table1_row

    # the paper's Table 1 and Thm 3.1 are about the plain network (no synaptic delays, the task's own
    # readout); a --set given by the user still comes after and wins
    args.set = [f"{key}={_yaml_value(value)}" for key, value in PAPER_NETWORK.items()] + args.set

    if args.complete:
        if args.out:
            check_output_file(args.out, "--out")
        return _certify_complete(args)
    counts = args.counts if isinstance(args.counts, list) else [args.counts]
    if not counts or any(isinstance(c, bool) or not isinstance(c, int) or c < 1 for c in counts):
        raise ValueError(f"--counts must be positive integers such as 2,16,32,64, got {args.counts!r}")
    from spikeopt.experiments.run import check_run, run, write_json

    if args.out:
        check_output_file(args.out, "--out")
    base = build_config(args)
    for k in counts:
        check_run(base.with_values(table1_row(k)))
    rows = []
    print(f"{'K':>4} {'test acc':>9} {'reg':>9} {'primal':>12} {'dual':>12} {'abs gap':>10} {'atoms':>6} {'active':>6}")
    for k in counts:
        try:
            result = run(base.with_values(table1_row(k)))  # K subnetworks, one block
        except KeyboardInterrupt:
            raise Interrupted("nothing was saved (certify writes --out at the end)") from None
        c, test = result["certificate"], result["metrics"]["test"]
        rows.append({"subnetworks": k, "test": test, **c, "atoms": result["dictionary"]["atoms"],
                     "active": result["reconstruction"]["active_atoms"], "path": result["path"]})
        print(f"{k:>4} {next(iter(test.values())):>9.4f} {c['reg']:>9.2e} {c['primal']:>12.6f} {c['dual']:>12.6f} "
              f"{c['gap']:>10.2e} {rows[-1]['atoms']:>6} {rows[-1]['active']:>6}")
    if args.out:
        write_json({"config": base.to_dict(), "rows": rows}, args.out)
        print(f"result written to {args.out}")
    return 0


def _yaml_value(value: Any) -> str:
    """``value`` as an override's right-hand side (``None`` is YAML's ``null``)."""
    return "null" if value is None else str(value)


def _certify_complete(args: argparse.Namespace) -> int:
    from spikeopt.experiments.complete import certify_complete, format_complete
    from spikeopt.experiments.run import write_json

    report = certify_complete(build_config(args), max_cells=args.max_cells)
    print(format_complete(report))
    if args.out:
        write_json(report, args.out)
        print(f"result written to {args.out}")
    return 0


def cmd_results(argv: list[str]) -> int:
    from spikeopt.experiments.commands import cmd_results as run_results

    return run_results(argv)


def cmd_reproduce(argv: list[str]) -> int:
    from spikeopt.experiments.commands import cmd_reproduce as run_reproduce

    return run_reproduce(argv)


def cmd_export(argv: list[str]) -> int:
    from spikeopt.export.commands import cmd_export as run_export

    return run_export(argv)


def cmd_plot(argv: list[str]) -> int:
    from spikeopt.plots.commands import cmd_plot as run_plot

    return run_plot(argv)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    commands = {"train": cmd_train, "tasks": cmd_tasks, "certify": cmd_certify,
                "results": cmd_results, "reproduce": cmd_reproduce, "export": cmd_export, "plot": cmd_plot}
    if not argv or argv[0] in ("-h", "--help") or argv[0] not in commands:
        print("usage: spikeopt {" + ",".join(commands) + "} [options]\n\n"
              "  train    train one model on a task with a method and write a JSON result\n"
              "  tasks    list the tasks and their options\n"
              "  certify  convex readouts for several subnetwork counts: accuracy, primal, dual, gap\n"
              "  results  query a sweep's run database and export it as CSV or JSON\n"
              "  reproduce  run the paper's Tables 1-6 (--quick/--full, --only tableN) into a report\n"
              "  export   write a saved network as a NIR graph (--format nir)\n"
              "  plot     raster/membrane, dictionary, solver-path and training-curve plots (PNG)\n\n"
              "`spikeopt <command> --help` shows a command's options.")
        if argv and argv[0] not in ("-h", "--help"):
            print(f"\nerror: unknown command {argv[0]!r}", file=sys.stderr)
            return 2
        return 0
    try:
        return commands[argv[0]](argv[1:])
    except Interrupted as err:
        print(f"spikeopt: interrupted; {err.saved}; resume with: {_command(argv)}", file=sys.stderr)
        return 130
    except KeyboardInterrupt:
        print(f"spikeopt: interrupted; run again with: {_command(argv)}", file=sys.stderr)
        return 130
    except BrokenPipeError:
        _silence_stdout()
        return 141  # 128 + SIGPIPE, what a shell reports for a reader that went away
    except (ValueError, TypeError, OSError, MemoryError) as err:
        print(f"spikeopt: error: {err}", file=sys.stderr)
        return 2


def _command(argv: list[str]) -> str:
    return "spikeopt " + shlex.join(argv)


def _silence_stdout() -> None:
    """The reader of our stdout is gone (``| head``): point stdout at /dev/null so the interpreter's
    final flush does not print a second BrokenPipeError."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
    except (OSError, ValueError, AttributeError):  # no real file descriptor (e.g. captured in tests)
        pass


if __name__ == "__main__":
    sys.exit(main())
