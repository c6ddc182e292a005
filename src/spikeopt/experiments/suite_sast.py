"""Suite ``sast`` of ``spikeopt reproduce``: paper 004 (sharpness-aware surrogate training) on event-digits.

The paper's headline is the hard-spike transfer gap: a network trained with smooth (surrogate-forward)
spikes loses accuracy when deployed with hard spikes, and SAM's flatter minimum closes the gap. The gap
depends on how far the smooth forward is from the hard one, i.e. on the surrogate slope, so the suite
sweeps the slope and rho together and judges SAM at the slope where the rho = 0 gap is largest, on an
architecture where such a gap exists (three hidden layers read at the last step; at the library's
default depth 1 with the integrate readout there is none, see ``benchmarks/sast_gap.py``). Beside
each rho it runs the abstract's controls: compute-matched surrogate-forward training (rho = 0 with twice
the epochs: the gradient evaluations of SAM's two per step), calibration (ECE of the hard-spike test
predictions) and theory alignment (sharpness at a fixed radius, input-gradient norm); and, for
reference, standard SG (hard forward, surrogate backward) at the same epochs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from spikeopt.experiments.claims import Claim, verdict
from spikeopt.experiments.config import RunConfig
from spikeopt.experiments.protocol import Protocol
from spikeopt.experiments.report import TOLERANCE, fmt_stat, md_table
from spikeopt.experiments.select import Stat, Summary, spec_records, summarize
from spikeopt.experiments.store import Store
from spikeopt.experiments.suite import Suite
from spikeopt.experiments.sweep import SweepSpec
from spikeopt.plots.sast import reliability_diagram


@dataclass(frozen=True)
class SastSizes:
    seeds: tuple[int, ...]
    epochs: int
    rhos: tuple[float, ...]
    slopes: tuple[float, ...]
    subnetworks: int = 16
    width: int = 16
    # where the rho = 0 transfer gap exists (benchmarks/sast_gap.py: at depth 1 with the integrate
    # readout it is within +-1 point at every slope 0.1-8; three layers read at the last step, slope 8,
    # open 13.8 points at 20 epochs, 23 at 8): SAM is judged where it has something to close
    depth: int = 3
    readout: str = "final"


SIZES = {
    "quick": SastSizes(seeds=(0, 1), epochs=8, rhos=(0.0, 0.1, 0.3), slopes=(0.5, 2.0, 8.0)),
    "full": SastSizes(seeds=(0, 1, 2), epochs=30, rhos=(0.0, 0.05, 0.1, 0.2, 0.3, 0.4), slopes=(0.1, 0.5, 2.0, 5.0, 10.0)),
}
PAPER_HARD = (0.657, 0.947)  # N-MNIST hard-spike accuracy at rho = 0 and at the best rho (0.30)


def sizes(p: Protocol) -> SastSizes:
    return SIZES.get(p.name, SIZES["quick"])


def _base(p: Protocol, method: str = "sast") -> RunConfig:
    s = sizes(p)
    return RunConfig(task="event-digits", method=method).with_values({
        "model.subnetworks": s.subnetworks, "model.width": s.width, "model.surrogate": "atan",
        "model.depth": s.depth, "model.readout": s.readout,
        "sast.epochs": s.epochs, "sast.progress": False, "sg.epochs": s.epochs, "sg.progress": False,
    })


def sast_specs(p: Protocol) -> list[SweepSpec]:
    s = sizes(p)
    slope = {"model.slope": list(s.slopes)}
    return [
        SweepSpec("sast/rho", _base(p), {**slope, "sast.rho": list(s.rhos)}, list(s.seeds), "val.accuracy", "max",
                  ["model.slope", "sast.rho"]),
        SweepSpec("sast/compute-matched", _base(p).with_values({"sast.rho": 0.0, "sast.epochs": 2 * s.epochs}),
                  dict(slope), list(s.seeds), "val.accuracy", "max", ["model.slope"]),
        SweepSpec("sast/sg", _base(p, "sg"), dict(slope), list(s.seeds), "val.accuracy", "max", ["model.slope"]),
    ]


def _extra(summary: Summary, path: str) -> Stat | None:
    """Mean and std over seeds of ``extra["sast"][path...]`` (dotted) of the chosen runs."""
    values = []
    for r in summary.runs.values():
        v: Any = (r.extra or {}).get("sast")
        for part in path.split("."):
            v = v.get(part) if isinstance(v, dict) else None
        if v is None:
            return None
        values.append(float(v))
    if not values:
        return None
    m = sum(values) / len(values)
    sd = (sum((x - m) ** 2 for x in values) / (len(values) - 1)) ** 0.5 if len(values) > 1 else 0.0
    return Stat(m, sd, len(values))


def _tables(p: Protocol, store: Store) -> tuple[dict, dict, dict]:
    rho_spec, cm_spec, sg_spec = sast_specs(p)
    grid = {(s.group["model.slope"], s.group["sast.rho"]): s for s in summarize(rho_spec, spec_records(rho_spec, store))}
    cm = {s.group["model.slope"]: s for s in summarize(cm_spec, spec_records(cm_spec, store))}
    sg = {s.group["model.slope"]: s for s in summarize(sg_spec, spec_records(sg_spec, store))}
    return grid, cm, sg


def gap_slope(p: Protocol, store: Store) -> float | None:
    """The slope with the largest mean rho = 0 test transfer gap: where SAM has something to close."""
    grid, _, _ = _tables(p, store)
    gaps = {slope: _extra(s, "transfer_gap") for (slope, rho), s in grid.items() if rho == 0.0}
    gaps = {k: v for k, v in gaps.items() if v is not None}
    return max(gaps, key=lambda k: gaps[k].mean) if gaps else None


def best_rho(p: Protocol, store: Store, slope: float) -> Summary | None:
    """The rho > 0 run group with the best mean hard-spike validation accuracy at ``slope``."""
    grid, _, _ = _tables(p, store)
    cands = [s for (sl, rho), s in grid.items() if sl == slope and rho > 0 and s.get("val.accuracy") is not None]
    return max(cands, key=lambda s: s.get("val.accuracy").mean, default=None)


def sast_render(p: Protocol, store: Store, folder: Path) -> str:
    grid, cm, sg = _tables(p, store)
    rows, curves = [], {}
    focus = gap_slope(p, store)
    for (slope, rho), s in grid.items():
        rows.append([slope, f"SAST rho={rho:g}", fmt_stat(s.get("test.accuracy")), fmt_stat(_extra(s, "clean_accuracy")),
                     fmt_stat(_extra(s, "transfer_gap")), fmt_stat(_extra(s, "calibration.ece")),
                     fmt_stat(_extra(s, "theory.sharpness"), 4), fmt_stat(_extra(s, "theory.input_grad_norm"), 4),
                     fmt_stat(_extra(s, "overhead"), 2)])
        if slope == focus:
            seed_run = next(iter(s.runs.values()), None)
            bins = (((seed_run.extra or {}).get("sast") or {}).get("calibration") or {}).get("bins") if seed_run else None
            if bins:
                curves[f"rho={rho:g}"] = bins
    for slope, s in cm.items():
        rows.append([slope, "compute-matched (rho=0, 2x epochs)", fmt_stat(s.get("test.accuracy")),
                     fmt_stat(_extra(s, "clean_accuracy")), fmt_stat(_extra(s, "transfer_gap")),
                     fmt_stat(_extra(s, "calibration.ece")), fmt_stat(_extra(s, "theory.sharpness"), 4),
                     fmt_stat(_extra(s, "theory.input_grad_norm"), 4), None])
    for slope, s in sg.items():
        rows.append([slope, "SG (hard forward)", fmt_stat(s.get("test.accuracy")), None, None, None, None, None, None])
    head = ["slope", "training", "hard-spike test acc", "surrogate-forward acc", "transfer gap", "ECE (hard)",
            f"sharpness (radius {0.05:g})", "input-grad norm", "time / plain epoch"]
    out = md_table(head, rows)
    sz = sizes(p)
    out += (f"\n\nNetwork: {sz.subnetworks} x {sz.width} LIF neurons, depth {sz.depth}, {sz.readout} readout, "
            f"{sz.epochs} epochs (at depth 1 with the integrate readout there is no gap to close: "
            "benchmarks/sast_gap.py). "
            f"The slope with the largest rho = 0 transfer gap is {focus}; the claims judge SAM there. "
            "Sharpness and input-gradient norm are measured on up to 512 training sequences with smooth spikes.")
    if curves:
        try:
            path = reliability_diagram(curves, folder / "sast_reliability.png",
                                       f"event-digits, depth {sz.depth}, slope {focus}, seed 0")
            out += f"\n\n![{path.stem}]({path.name})"
        except Exception as err:  # noqa: BLE001 - a plot failure must not lose the table
            out += f"\n\n_reliability plot failed: {type(err).__name__}: {err}_"
    return out


def _cmp(where: str, text: str, paper_value: str, a: Stat | None, b: Stat | None, lower_is_better: bool,
         names: tuple[str, str]) -> Claim:
    if a is None or b is None:
        return Claim("004", where, text, paper_value, None, "not run")
    diff = (b.mean - a.mean) if lower_is_better else (a.mean - b.mean)
    rule = f"mean over seeds {'lower' if lower_is_better else 'higher'} by more than {TOLERANCE}"
    return Claim("004", where, text, paper_value, f"{names[0]} {a.fmt(3)} vs {names[1]} {b.fmt(3)}",
                 verdict(diff > TOLERANCE), rule)


def sast_claims(p: Protocol, store: Store) -> list[Claim]:
    grid, cm, _ = _tables(p, store)
    slope = gap_slope(p, store)
    base = grid.get((slope, 0.0)) if slope is not None else None
    best = best_rho(p, store, slope) if slope is not None else None
    where = "Abstract (N-MNIST)"
    tag = f"event-digits, depth {sizes(p).depth} {sizes(p).readout} readout, slope {slope}" + (f", best rho {best.group['sast.rho']:g}" if best is not None else "")

    def get(s: Summary | None, path: str) -> Stat | None:
        """A split metric (``test.accuracy``) or a SAST record (``theory.sharpness``) of a run group."""
        if s is None:
            return None
        return s.get(path) if path.split(".")[0] in ("test", "val") else _extra(s, path)
    claims = [
        _cmp(where, f"SAM raises hard-spike accuracy over rho = 0 ({tag})", f"{PAPER_HARD[0]:.3f} -> {PAPER_HARD[1]:.3f}",
             get(best, "test.accuracy"), get(base, "test.accuracy"), False, ("SAM", "rho=0")),
        _cmp(where, f"SAM reduces the hard-spike transfer gap ({tag})", "stated (the clearest effect)",
             get(best, "transfer_gap"), get(base, "transfer_gap"), True, ("SAM", "rho=0")),
        _cmp("Abstract (controls)", f"SAM beats compute-matched surrogate-forward training ({tag})",
             "control specified, not reported", get(best, "test.accuracy"),
             get(cm.get(slope), "test.accuracy") if slope is not None else None, False, ("SAM", "2x epochs")),
        _cmp("Abstract (theory alignment)", f"SAM lowers the input-gradient norm ({tag})",
             "proposition (local mechanism)", get(best, "theory.input_grad_norm"), get(base, "theory.input_grad_norm"),
             True, ("SAM", "rho=0")),
        _cmp("Abstract (theory alignment)", f"SAM finds a flatter minimum: lower sharpness at a fixed radius ({tag})",
             "the premise of SAM", get(best, "theory.sharpness"), get(base, "theory.sharpness"), True, ("SAM", "rho=0")),
    ]
    smooth_best, smooth_base = get(best, "clean_accuracy"), get(base, "clean_accuracy")
    keeps = None if smooth_best is None or smooth_base is None else smooth_best.mean >= smooth_base.mean - 0.02
    claims.append(Claim("004", where, f"surrogate-forward accuracy remains high under SAM ({tag})", "stated",
                        None if keeps is None else f"SAM {smooth_best.fmt(3)} vs rho=0 {smooth_base.fmt(3)}",
                        verdict(keeps), "mean over seeds not lower by more than 0.02"))
    claims.append(Claim("004", "Abstract (DVS Gesture)", "hard-spike accuracy 31.8% -> 63.3% at rho = 0.40",
                        "0.318 -> 0.633", None, "not testable", "no DVS Gesture data here (nothing is downloaded)"))
    return claims


SAST_SUITE = Suite("sast", "Paper 004: sharpness-aware surrogate training, its transfer gap and its controls",
                   sast_specs, sast_render, sast_claims,
                   notes=("the paper's N-MNIST and DVS Gesture are replaced by the built-in simulated event-digits",))
