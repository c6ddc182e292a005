"""convex.distributed: 2-process gloo solves give the solution and certificate of one process.

One ``torch.multiprocessing.spawn`` of two gloo processes (``init_method=file://``) runs every
scenario (module fixture); each process pickles what it got, and the tests compare both processes
with ``convex.solve`` on all rows in one process, with cvxpy/Clarabel, and with independent float64
checks of the certificate (dual feasibility over the full dictionary, primal recomputed by hand).
"""

import json
import os
import pickle
import subprocess
import sys
import warnings
from collections import namedtuple
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from references import group_lasso_optimum

from spikeopt.convex import distributed as cd
from spikeopt.convex import solve, solve_path
from spikeopt.convex.solver import reg_max
from spikeopt.convex.torch_design import TorchDesign

Head = namedtuple("Head", "name classes weight")
HEADS = [Head("a", 3, 1.0), Head("b", 2, 0.5)]
WORLD = 2
REL = 1e-9  # primal / dual agreement between one and two processes (relative)


# ============================================================================ problems
def _problem(name):
    """``(D, Y, loss, weights, intercept, reg, tol, split)``; ``split`` = rows of process 0."""
    rng = np.random.default_rng(sum(map(ord, name)))
    if name == "squared":  # float32 rate atoms (never compressed), uneven shards, 2 outputs, weights
        D = rng.random((70, 18)).astype(np.float32)
        Y = rng.standard_normal((70, 2))
        return D, Y, "squared", rng.uniform(0.2, 2.0, 70), True, 0.02, 1e-10, 40
    if name in ("ce", "mixed"):  # binary atoms, 3 classes, weights
        D = (rng.random((90, 25)) < 0.4).astype(np.uint8)
        return D, rng.integers(0, 3, 90), "cross_entropy", rng.uniform(0.5, 1.5, 90), True, 5e-3, 1e-9, 50
    if name == "multi":  # two heads, no intercept
        D = (rng.random((80, 20)) < 0.4).astype(np.uint8)
        Y = np.stack([rng.integers(0, 3, 80), rng.integers(0, 2, 80)], axis=1)
        return D, Y, HEADS, None, False, 1e-2, 1e-9, 37
    if name == "sparse":  # scipy sparse shards, 1 output, no intercept
        D = sp.random(75, 30, density=0.15, format="csr", random_state=7, data_rvs=lambda k: np.ones(k))
        return D, rng.standard_normal(75), "squared", None, False, 5e-3, 1e-10, 33
    if name in ("compressed", "torch"):  # 12 distinct rows repeated: each shard (>= 64 rows) is merged on its own
        base = (rng.random((12, 16)) < 0.5).astype(np.uint8)
        rows = rng.integers(0, 12, 180)
        return base[rows], rows % 3, "cross_entropy", rng.uniform(0.5, 1.5, 180), True, 5e-3, 1e-9, 100
    raise ValueError(name)


PATH_REGS = [0.05, 0.01, 0.002]
PATH_TOL = 1e-8
SCENARIOS = ["squared", "ce", "multi", "sparse", "compressed", "torch", "mixed"]


def _shard(name, rank):
    D, Y, loss, w, icpt, reg, tol, split = _problem(name)
    rows = slice(0, split) if rank == 0 else slice(split, None)
    return D[rows], Y[rows], loss, (None if w is None else w[rows]), icpt, reg, tol


# ============================================================================ the two processes
def _caught(fn):
    try:
        fn()
    except Exception as exc:  # the test inspects type and message
        return type(exc).__name__, str(exc)
    return None


def _run_all(rank):
    out = {}
    for name in SCENARIOS:
        D, Y, loss, w, icpt, reg, tol = _shard(name, rank)
        if name == "torch":  # shards as torch tensors: merged and multiplied by the torch path
            D = TorchDesign(torch.from_numpy(D))
        if name == "mixed":  # different storage per process: float32 rows here, a scipy matrix (-> float64) there
            D = D.astype(np.float32) if rank == 0 else sp.csr_matrix(D.astype(float))
        group = torch.distributed.new_group([0, 1]) if name == "multi" else None  # an explicit group
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            out[name] = cd.solve(D, Y, reg, loss, sample_weight=w, intercept=icpt, tol=tol, process_group=group)
    D, Y, loss, w, icpt, reg, tol = _shard("ce", rank)  # the same solve through convex.solve's keyword
    world = torch.distributed.group.WORLD
    out["keyword"] = solve(D, Y, reg, loss, sample_weight=w, intercept=icpt, tol=tol, process_group=world)
    out["keyword_path"] = solve_path(D, Y, [reg], loss, sample_weight=w, intercept=icpt, tol=tol, process_group=world)
    D, Y, loss, w, icpt, _, _ = _shard("squared", rank)
    out["path"] = cd.solve_path(D, Y, PATH_REGS, loss, sample_weight=w, intercept=icpt, tol=PATH_TOL)
    out["reg_max"] = cd.reg_max(D, Y, loss, sample_weight=w, intercept=icpt)
    # failures on one process are raised on every process (none hangs)
    out["bad_rows"] = _caught(lambda: cd.solve(D, Y[: len(Y) - rank], 0.1, loss))
    out["bad_p"] = _caught(lambda: cd.ShardedDesign(D[:, : D.shape[1] - rank]))
    sd = cd.ShardedDesign(D)
    out["diverged"] = _caught(lambda: sd.dot(np.array([0, 1]), np.full((2, 2), 1.0 + rank)))
    out["same"] = sd.dot(np.array([0, 1]), np.ones((2, 2)))
    out["row_range"] = sd.row_range
    return out


def _worker(rank, world, init_file, out_dir):
    torch.set_num_threads(1)
    torch.distributed.init_process_group("gloo", init_method=f"file://{init_file}", rank=rank, world_size=world)
    try:
        with open(f"{out_dir}/rank{rank}.pkl", "wb") as fh:
            pickle.dump(_run_all(rank), fh)
    finally:
        torch.distributed.destroy_process_group()


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("dist")
    torch.multiprocessing.spawn(_worker, args=(WORLD, str(tmp / "init"), str(tmp)), nprocs=WORLD, join=True)
    out = []
    for r in range(WORLD):
        with open(tmp / f"rank{r}.pkl", "rb") as fh:
            out.append(pickle.load(fh))
    return out


# ============================================================================ references
def _cvxpy_optimum(D, Y, reg, loss, w, intercept):
    return group_lasso_optimum(D, Y, reg, loss, w, intercept, classes=3)


def _hand_primal(D, Y, loss, w, sol):
    """P(W, b) from scratch in float64 (the squared and single-head CE cases)."""
    n = D.shape[0]
    w = np.ones(n) if w is None else w
    Z = D.astype(float) @ sol.coef + sol.intercept
    if loss == "squared":
        li = 0.5 * np.sum((Z - Y.reshape(n, -1)) ** 2, axis=1)
    else:
        m = Z.max(axis=1, keepdims=True)
        li = (m[:, 0] + np.log(np.exp(Z - m).sum(axis=1))) - Z[np.arange(n), Y]
    return float(w @ li) / n + sol.reg * float(np.linalg.norm(sol.coef, axis=1).sum())


# ============================================================================ tests
@pytest.mark.parametrize("name", SCENARIOS)
def test_two_processes_give_the_one_process_solution_and_certificate(ranks, name):
    import cvxpy  # noqa: F401  (a reference test: fails, never skips)

    D, Y, loss, w, icpt, reg, tol, _ = _problem(name)
    one = solve(D, Y, reg, loss, sample_weight=w, intercept=icpt, tol=tol)
    D = D.toarray() if sp.issparse(D) else D
    got = [r[name] for r in ranks]
    for s in got:
        assert s.converged and s.gap <= tol
        assert s.primal == pytest.approx(one.primal, rel=REL)
        assert s.dual == pytest.approx(one.dual, rel=REL)
        assert abs(s.gap - one.gap) <= REL * abs(one.primal)
        assert np.allclose(s.coef, one.coef, rtol=0, atol=1e-5)
        assert np.allclose(s.intercept, one.intercept, rtol=0, atol=1e-5)
        assert s.dual_point.shape == (D.shape[0], s.coef.shape[1])  # rows as given, rank order
        assert np.allclose(s.dual_point, one.dual_point, rtol=0, atol=1e-8 / D.shape[0])
        # the certificate on the full dictionary, recomputed independently of the solver
        price = np.linalg.norm(D.astype(float).T @ s.dual_point, axis=1)
        assert price.max() <= reg * (1 + 1e-9)
        if name != "multi":
            assert _hand_primal(D, Y, loss, w, s) == pytest.approx(s.primal, rel=1e-12)
    # both processes hold the same bits
    assert np.array_equal(got[0].coef, got[1].coef) and got[0].primal == got[1].primal and got[0].dual == got[1].dual
    ref = _cvxpy_optimum(D, Y, reg, loss, w, icpt)
    assert got[0].dual <= ref + 1e-9 and abs(got[0].primal - ref) <= 1e-6 * max(1.0, abs(ref))


def test_path_and_reg_max_match_one_process(ranks):
    D, Y, loss, w, icpt, _, _, _ = _problem("squared")
    ones = solve_path(D, Y, PATH_REGS, loss, sample_weight=w, intercept=icpt, tol=PATH_TOL)
    rmax = reg_max(D, Y, loss, sample_weight=w, intercept=icpt)
    for r in ranks:
        assert r["reg_max"] == pytest.approx(rmax, rel=1e-12)
        assert [s.reg for s in r["path"]] == PATH_REGS
        for s, one in zip(r["path"], ones):
            assert s.converged and s.primal == pytest.approx(one.primal, rel=REL)
            assert s.dual == pytest.approx(one.dual, rel=REL)


def test_process_group_keyword_of_convex_solve(ranks):
    D, Y, loss, w, icpt, reg, tol, _ = _problem("ce")
    one = solve(D, Y, reg, loss, sample_weight=w, intercept=icpt, tol=tol)
    for r in ranks:
        for s in (r["keyword"], r["keyword_path"][0]):
            assert s.converged and s.primal == pytest.approx(one.primal, rel=REL)
            assert s.dual == pytest.approx(one.dual, rel=REL)
            assert np.allclose(s.dual_point, one.dual_point, rtol=0, atol=1e-8 / D.shape[0])
    assert np.array_equal(ranks[0]["keyword"].coef, ranks[1]["keyword"].coef)


def test_rows_are_gathered_in_rank_order(ranks):
    D, *_ = _problem("squared")
    ref = D[:, :2].astype(float) @ np.ones((2, 2))
    assert ranks[0]["row_range"] == (0, 40) and ranks[1]["row_range"] == (40, 70)
    for r in ranks:
        assert np.array_equal(r["same"], ref)


def test_a_failure_on_one_process_is_raised_on_every_process(ranks):
    assert ranks[1]["bad_rows"][0] == "ValueError" and "Y_local must have" in ranks[1]["bad_rows"][1]
    assert ranks[0]["bad_rows"][0] == "RuntimeError" and "process(es) 1" in ranks[0]["bad_rows"][1]
    for r in ranks:
        assert r["bad_p"][0] == "ValueError" and "same atoms" in r["bad_p"][1]
        assert r["diverged"][0] == "RuntimeError" and "diverged" in r["diverged"][1]


def test_needs_an_initialised_process_group():
    assert not torch.distributed.is_initialized()
    with pytest.raises(RuntimeError, match="init_process_group"):
        cd.solve(np.ones((4, 2)), np.zeros(4), 0.1)
    with pytest.raises(RuntimeError, match="init_process_group"):
        cd.ShardedDesign(np.ones((4, 2)))


def test_torchrun_example_with_two_processes():
    """examples/distributed_solve.py under torchrun: 2 gloo processes, checked against one process."""
    root = Path(__file__).resolve().parents[2]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=os.pathsep.join([str(root / "src"), os.environ.get("PYTHONPATH", "")]))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(root / "examples" / "distributed_solve.py"), "--rows", "600", "--atoms", "100", "--check"]
    res = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stdout[-2000:] + res.stderr[-2000:]
    out = json.loads([line for line in res.stdout.splitlines() if line.startswith("{")][-1])
    assert out["processes"] == 2 and out["rows_here"] == 300 and out["converged"] and out["gap"] <= 1e-8
    assert max(out["one_process"]["rel_diff"].values()) <= REL
