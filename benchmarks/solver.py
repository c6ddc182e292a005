"""Solver benchmark: ``spikeopt.convex.solve`` against scikit-learn, skglm and cvxpy+Clarabel.

    python benchmarks/solver.py                 # full set (slow: N = 20,000 dictionaries)
    python benchmarks/solver.py --quick         # N = 4,000 first-last-XOR, addition, mnist-seq
    python benchmarks/solver.py --quick --peer-timeout 20 --regs 1e-2 1e-3

Instances are spike dictionaries built by the library itself (Gaussian witnesses, 64 subnetworks x
32 neurons x depth 2): first-last-XOR (``final`` layout), the addition task's trajectory-stacked
dictionary (base 3, carry mode, two heads, ramped time weights as row weights) and mnist-seq
(scikit-learn 8x8 digits, T = 8). Losses: squared (one-hot targets) and cross-entropy (the task's
heads). Every peer is asked for the *same* objective

    (1/n) sum_i w_i l(D_i W, y_i) + reg * sum_j ||W_j||_2      (no intercept)

* squared: ``MultiTaskLasso(alpha=reg)`` (scikit-learn, skglm) on ``sqrt(w)``-scaled rows -- exact;
* cross-entropy with one 2-class head: the group penalty on ``(W_j0, W_j1)`` equals an l1 penalty
  ``reg/sqrt(2) |d_j|`` on the logit difference ``d = W_1 - W_0`` (the optimum has ``W_0 = -W_1``),
  so ``LogisticRegression(l1, C = sqrt(2)/(reg n))`` and ``SparseLogisticRegression(alpha =
  reg/sqrt(2))`` solve it exactly; with more classes or heads neither library has the objective
  (their multinomial l1 is elementwise / one-vs-rest): recorded as ``n/a``;
* cvxpy + Clarabel: the exact conic model for every loss.

Times are CPU seconds of one thread (``time.process_time`` in the solving process; ours and each
peer's forked child), wall seconds beside them. Each peer runs in a forked child process killed
after ``--peer-timeout`` wall seconds (recorded as a timeout, its time a lower bound).
``--no-repeats`` keeps only instances without repeated rows (first-last-XOR T = 16 / 32 at
N = 4,000 and mnist-seq), where row compression cannot help. Beside each solve the table prints its
cost in full-dictionary passes ``D^T Theta`` (``ConvexSolution.n_passes``) and the ratio
``solve CPU time / CPU time of one pass`` (median of 5 products ``D^T Theta`` on the compact design). Each peer's coefficients are re-evaluated with our float64
objective; "same objective" means within 1e-6 of our certified primal. Our solve (to a certified
duality gap <= 1e-6) is repeated ``--repeats`` times, interleaved with the peers; the median is used.
Ratios are per problem: ``speedup = fastest peer time / our time`` (target >= 10). Before the timed
solves of an instance and loss, one small solve (256 rows) loads our compiled numba kernels.
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMBA_NUM_THREADS"):
    os.environ.setdefault(_v, "1")  # one thread everywhere: CPU time is comparable on a shared machine

import argparse
import json
import math
import multiprocessing as mp
import sys
import time
import warnings
from pathlib import Path

import numpy as np

from _meta import run_meta  # noqa: E402 (benchmarks/ is on sys.path when run as a script)

HERE = Path(__file__).resolve().parent
REGS = (1e-2, 1e-3, 1e-4)
TOL = 1e-6


# ----------------------------------------------------------------------------- instances
def _witnesses(in_features: int, seed: int):
    from spikeopt.convex.witnesses import gaussian_witnesses
    from spikeopt.snn.config import ModelConfig

    return gaussian_witnesses(in_features, ModelConfig(subnetworks=64, width=32, depth=2), seed=seed)


def xor_instance(steps: int, n: int, seed: int = 0):
    from spikeopt.convex.dictionary import build_dictionary
    from spikeopt.tasks.first_last_xor import FirstLastXor

    task = FirstLastXor(steps=steps, n_train=n, n_val=1, n_test=1)
    train = task.splits(seed)["train"]
    d = build_dictionary(_witnesses(task.in_features, seed), train.x, "final")
    return d.atoms, train.y.numpy(), None, task.heads


def addition_instance(seed: int = 0, digits: int = 8, n: int = 2048):
    from spikeopt.convex.dictionary import build_dictionary, stack_row_weights, stack_targets
    from spikeopt.tasks.addition import Addition

    task = Addition(base=3, digits=digits, n_train=n, n_val=1, n_test=1, n_ood=1)
    train = task.splits(seed)["train"]
    d = build_dictionary(_witnesses(task.in_features, seed), train.x, "trajectory")
    y = stack_targets(train.y, "trajectory")
    w = stack_row_weights(task.time_weights(train.steps), train.steps, len(train))
    return d.atoms, y, w, task.heads


def mnist_instance(seed: int = 0):
    from spikeopt.convex.dictionary import build_dictionary
    from spikeopt.tasks.mnist_seq import MnistSeq

    task = MnistSeq(steps=8)
    train = task.splits(seed)["train"]
    d = build_dictionary(_witnesses(task.in_features, seed), train.x, "final")
    return d.atoms, train.y.numpy(), None, task.heads


def instances(quick: bool, no_repeats: bool = False):
    if no_repeats:
        xor = [(16, 4000), (32, 4000)]
    else:
        xor = [(8, 4000), (16, 4000)] + ([] if quick else [(8, 20000), (16, 20000)])
    for steps, n in xor:
        yield f"xor-T{steps}-N{n}", (lambda s=steps, m=n: xor_instance(s, m))
    if not no_repeats:
        yield "addition-b3", addition_instance
    yield "mnist-seq-digits", mnist_instance


def one_pass_cpu(D, c: int) -> float:
    """Median CPU seconds of one full product ``D^T Theta`` on the compact design (the pass unit)."""
    from spikeopt.convex.design import Design

    d = Design(D)
    T = np.random.default_rng(0).standard_normal((d.n, c))
    times = []
    for _ in range(5):
        t = time.process_time()
        d.tdot(T)
        times.append(time.process_time() - t)
    return float(np.median(times))


# ----------------------------------------------------------------------------- objective
def onehot(y: np.ndarray, heads) -> np.ndarray:
    y = y.reshape(y.shape[0], -1)
    return np.concatenate([np.eye(h.classes)[y[:, i]] for i, h in enumerate(heads)], axis=1)


def ce_loss(heads):
    return "cross_entropy" if len(heads) == 1 else list(heads)


def objective(D, Y, W, loss, reg, w) -> float:
    """Our float64 primal objective at ``W`` (no intercept)."""
    from spikeopt.convex.solver import make_datafit

    D = np.asarray(D, dtype=np.float64)
    fit, _, _ = make_datafit(loss, Y, D.shape[0], w, None)
    return float(fit.value(D @ W) + reg * np.sqrt((W * W).sum(axis=1)).sum())


# ----------------------------------------------------------------------------- peers
def peer_sklearn(D, Y, loss, reg, w, heads):
    if loss == "squared":
        from sklearn.linear_model import MultiTaskLasso

        s = np.sqrt(np.ones(D.shape[0]) if w is None else w)[:, None]
        m = MultiTaskLasso(alpha=reg, fit_intercept=False, tol=1e-10, max_iter=1_000_000)
        m.fit(D * s, Y * s)
        return m.coef_.T
    if len(heads) == 1 and heads[0].classes == 2:
        from sklearn.linear_model import LogisticRegression

        n = D.shape[0]
        m = LogisticRegression(
            l1_ratio=1.0, C=math.sqrt(2.0) / (reg * n), solver="liblinear", fit_intercept=False, tol=1e-10,
            max_iter=1_000_000,
        )
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            m.fit(D, Y.reshape(-1), sample_weight=w)
        d = m.coef_.reshape(-1)
        return np.stack([-d / 2, d / 2], axis=1)
    return None


def peer_skglm(D, Y, loss, reg, w, heads):
    if loss == "squared":
        from skglm import MultiTaskLasso

        s = np.sqrt(np.ones(D.shape[0]) if w is None else w)[:, None]
        m = MultiTaskLasso(alpha=reg, fit_intercept=False, tol=1e-10, max_iter=100_000)
        m.fit(D * s, Y * s)
        return m.coef_.T
    if len(heads) == 1 and heads[0].classes == 2 and w is None:
        from skglm import SparseLogisticRegression

        m = SparseLogisticRegression(alpha=reg / math.sqrt(2.0), fit_intercept=False, tol=1e-10, max_iter=100_000)
        m.fit(D, Y.reshape(-1))
        d = m.coef_.reshape(-1)
        return np.stack([-d / 2, d / 2], axis=1)
    return None


def peer_cvxpy(D, Y, loss, reg, w, heads):
    import cvxpy as cp

    n, p = D.shape
    w = np.ones(n) if w is None else w
    if loss == "squared":
        c = Y.shape[1]
        W = cp.Variable((p, c))
        F = 0.5 * cp.sum(cp.multiply(w[:, None], cp.square(D @ W - Y))) / n
    else:
        Yi = Y.reshape(n, -1)
        c = sum(h.classes for h in heads)
        W = cp.Variable((p, c))
        Z = D @ W
        F, off = 0, 0
        for i, h in enumerate(heads):
            Zh = Z[:, off : off + h.classes]
            oh = np.eye(h.classes)[Yi[:, i]]
            F = F + h.weight * (w @ (cp.log_sum_exp(Zh, axis=1) - cp.sum(cp.multiply(oh, Zh), axis=1))) / n
            off += h.classes
    prob = cp.Problem(cp.Minimize(F + reg * cp.sum(cp.norm(W, 2, axis=1))))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        prob.solve(solver="CLARABEL", tol_gap_abs=1e-9, tol_gap_rel=1e-9, tol_feas=1e-9)
    return np.asarray(W.value)


PEERS = {"sklearn": peer_sklearn, "skglm": peer_skglm, "cvxpy": peer_cvxpy}
_JOB: dict = {}  # the problem a forked child solves (inherited through fork, not pickled)


def _child(name, conn, cpu_limit):
    import resource

    lim = int(math.ceil(cpu_limit))
    resource.setrlimit(resource.RLIMIT_CPU, (lim, lim + 5))  # a CPU-time limit: fair on a loaded machine
    try:
        j = _JOB
        D = np.asarray(j["D"], dtype=np.float64)
        t, c = time.perf_counter(), time.process_time()
        W = PEERS[name](D, j["Y"], j["loss"], j["reg"], j["w"], j["heads"])
        el, cpu = time.perf_counter() - t, time.process_time() - c
        conn.send(("ok", (cpu, el), W))
    except Exception as err:  # pragma: no cover - reported in the table
        conn.send(("error", 0.0, f"{type(err).__name__}: {err}"))
    conn.close()


def run_peer(name, timeout):
    """Run a peer in a forked child limited to ``timeout`` CPU seconds (SIGXCPU kills it past that).

    Returns ``(status, cpu_s, W, wall_s)``; a killed peer is a ``timeout`` with ``cpu_s = timeout``
    (a lower bound on its time).
    """
    ctx = mp.get_context("fork")
    a, b = ctx.Pipe(duplex=False)
    proc = ctx.Process(target=_child, args=(name, b, timeout))
    proc.start()
    b.close()
    try:
        status, el, W = a.recv()  # EOFError when the child died (CPU limit) without sending
    except EOFError:
        proc.join()
        return "timeout", float(timeout), None, None
    proc.join()
    if status == "ok":
        cpu, wall = el
        return status, cpu, W, wall
    return status, el, W, None


# ----------------------------------------------------------------------------- main
def _verdict(met) -> str:
    return "n/a" if met is None else ("met" if met else "MISSED")


def ours(D, Y, loss, reg, w):
    from spikeopt.convex.solver import solve

    t = time.process_time()
    sol = solve(D, Y, reg, loss=loss, sample_weight=w, tol=TOL, max_iter=200_000)
    return time.process_time() - t, sol


def warm_up(D, Y, loss, w) -> None:
    """One small solve of the same loss first: numba loads (on a fresh install: compiles) our kernels
    outside the timed solves, as the peers' compiled code needs no such step."""
    from spikeopt.convex.solver import solve

    m = min(256, D.shape[0])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        solve(D[:m], Y[:m], 1e-2, loss=loss, sample_weight=None if w is None else w[:m], max_iter=50)


def path_check(D, Y, loss, regs, w):
    """A 10-value path with warm starts against 10 independent solves (time ratio)."""
    from spikeopt.convex.solver import solve, solve_path

    grid = list(np.geomspace(max(regs), min(regs), 10))
    t = time.perf_counter()
    sols = solve_path(D, Y, grid, loss=loss, sample_weight=w, tol=TOL, max_iter=200_000)
    t_path = time.perf_counter() - t
    t = time.perf_counter()
    for r in grid:
        solve(D, Y, r, loss=loss, sample_weight=w, tol=TOL, max_iter=200_000)
    t_ind = time.perf_counter() - t
    return {"values": len(grid), "path_s": t_path, "independent_s": t_ind, "ratio": t_path / t_ind,
            "max_gap": max(s.gap for s in sols)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="N = 4,000 XOR dictionaries only (plus addition, mnist)")
    ap.add_argument("--regs", type=float, nargs="+", default=list(REGS))
    ap.add_argument("--peers", nargs="+", default=list(PEERS), choices=list(PEERS))
    ap.add_argument("--peer-timeout", type=float, default=300.0,
                    help="CPU seconds per peer solve (then: timeout, its time a lower bound)")
    ap.add_argument("--repeats", type=int, default=3, help="our solves per problem (median)")
    ap.add_argument("--only", nargs="+", default=None, help="instance names to run (prefix match)")
    ap.add_argument("--losses", nargs="+", default=["squared", "cross_entropy"])
    ap.add_argument("--no-skip", action="store_true",
                    help="run a peer at a smaller reg even after it timed out at a larger one")
    ap.add_argument("--no-path", action="store_true", help="skip the regularization-path check")
    ap.add_argument("--no-repeats", action="store_true",
                    help="only instances without repeated rows: xor T=16/32 (N=4,000) and mnist-seq")
    ap.add_argument("--out", default=str(HERE / "results" / "solver.json"))
    args = ap.parse_args(argv)

    rows, paths = [], []
    header = f"{'instance':18s} {'loss':8s} {'reg':>7s} {'ours_s':>8s} {'gap':>8s}  " + "  ".join(
        f"{p + '_s':>10s} {'dobj':>9s}" for p in args.peers) + f"  {'speedup':>8s} {'target':>6s}"
    print("CPU seconds, one thread. speedup = fastest peer / ours (target >= 10); passes = full D^T Theta products")
    try:
        import torch

        torch.set_num_threads(1)
    except ImportError:  # pragma: no cover
        pass
    for name, make in instances(args.quick, args.no_repeats):
        if args.only and not any(name.startswith(o) for o in args.only):
            continue
        t = time.perf_counter()
        D, y, w, heads = make()
        build_s = time.perf_counter() - t
        print(f"\n{name}: D {D.shape[0]} x {D.shape[1]} (unique non-zero atoms), built in {build_s:.1f}s, "
              f"{len(np.unique(D, axis=0))} distinct rows")
        print(header)
        for loss_kind in args.losses:
            Y = onehot(y, heads) if loss_kind == "squared" else y
            loss = "squared" if loss_kind == "squared" else ce_loss(heads)
            c_out = Y.shape[1] if loss_kind == "squared" else sum(h.classes for h in heads)
            pass_s = one_pass_cpu(D, c_out)
            warm_up(D, Y, loss, w)
            timed_out: set[str] = set()
            for reg in sorted(args.regs, reverse=True):
                our_times, sol = [], None
                peers = {}
                _JOB.update(D=D, Y=Y, loss=loss, reg=reg, w=w, heads=heads)
                el, sol = ours(D, Y, loss, reg, w)
                our_times.append(el)
                for p in args.peers:
                    if p in timed_out and not args.no_skip:
                        peers[p] = {"status": "skipped (timed out at a larger reg)", "time_s": None}
                    else:
                        status, pt, W, wall = run_peer(p, args.peer_timeout)
                        if status == "ok" and W is None:
                            status, pt = "n/a", None
                        rec = {"status": status, "time_s": pt, "wall_s": wall}
                        if status == "timeout":
                            timed_out.add(p)
                        if W is not None and status == "ok":
                            obj = objective(D, Y, W, loss, reg, w)
                            rec.update(objective=obj, dobj=obj - sol.primal, same=abs(obj - sol.primal) <= 1e-6)
                        peers[p] = rec
                    if len(our_times) < args.repeats:
                        el, s2 = ours(D, Y, loss, reg, w)
                        our_times.append(el)
                while len(our_times) < args.repeats:
                    our_times.append(ours(D, Y, loss, reg, w)[0])
                t_ours = float(np.median(our_times))
                finished = [r["time_s"] for r in peers.values() if r["status"] in ("ok", "timeout")]
                fastest = min(finished) if finished else None
                lower = fastest is not None and all(
                    r["status"] != "ok" for r in peers.values() if r["status"] in ("ok", "timeout"))
                speed = (fastest / t_ours) if fastest else None
                row = {
                    "instance": name, "rows": int(D.shape[0]), "atoms": int(D.shape[1]), "loss": sol.loss,
                    "reg": reg, "ours_s": t_ours, "ours_runs_s": our_times, "primal": sol.primal, "dual": sol.dual,
                    "gap": sol.gap, "converged": sol.converged, "active": int(len(sol.active)),
                    "peers": peers, "fastest_peer_s": fastest, "speedup": speed,
                    "speedup_is_lower_bound": bool(lower),
                    "passes": float(sol.n_passes), "one_pass_cpu_s": pass_s, "time_over_pass": t_ours / pass_s,
                    "target_met": None if speed is None else bool(speed >= 10),  # None: no peer measured
                }
                rows.append(row)
                cells = []
                for p in args.peers:
                    r = peers[p]
                    if r["status"] == "ok":
                        cells.append(f"{r['time_s']:10.2f} {r.get('dobj', float('nan')):9.1e}")
                    elif r["status"] == "timeout":
                        cells.append(f"{'>' + format(r['time_s'], '.0f'):>10s} {'timeout':>9s}")
                    else:
                        cells.append(f"{'-':>10s} {r['status'][:9]:>9s}")
                sp_txt = "-" if speed is None else (">" if lower else "") + f"{speed:.1f}x"
                print(f"{name:18s} {sol.loss[:8]:8s} {reg:7.0e} {t_ours:8.3f} {sol.gap:8.1e}  " + "  ".join(cells)
                      + f"  {sp_txt:>8s} {_verdict(row['target_met']):>6s}  passes {sol.n_passes:6.0f}"
                      f"  time/pass {t_ours / pass_s:7.0f}", flush=True)
            if not args.no_path and len(args.regs) > 1:
                pc = path_check(D, Y, loss, args.regs, w)
                pc.update(instance=name, loss=loss_kind)
                paths.append(pc)
                print(f"  path of {pc['values']} regs ({loss_kind}): {pc['path_s']:.2f}s vs {pc['independent_s']:.2f}s "
                      f"independent -> ratio {pc['ratio']:.2f} (max gap {pc['max_gap']:.1e})", flush=True)

    met = sum(r["target_met"] is True for r in rows)
    measured = sum(r["target_met"] is not None for r in rows)
    print(f"\n10x target met on {met} of {measured} problems with a peer measurement "
          f"({len(rows) - measured} without: every peer skipped or n/a)")
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    meta = run_meta(tol=TOL, peer_timeout_s=args.peer_timeout, repeats=args.repeats)
    tmp = out.with_suffix(".tmp")
    tmp.write_text(json.dumps({"meta": meta, "problems": rows, "paths": paths}, indent=1, default=float))
    tmp.replace(out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
