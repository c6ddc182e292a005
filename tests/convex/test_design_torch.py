"""convex.torch_design: the torch-device design path, run on CPU tensors (no GPU here).

Products are checked against exact sums (math.fsum), the CSC columns against scipy, the packed rows
against np.packbits, and whole solves against cvxpy/Clarabel and the numpy design path.
"""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from references import group_lasso_optimum

from spikeopt.convex import design as design_mod
from spikeopt.convex import solve
from spikeopt.convex.design import Design
from spikeopt.convex.torch_design import TorchDesign


def _exact_tdot(D, T):
    n, p = D.shape
    return np.array([[math.fsum(float(D[i, j]) * T[i, k] for i in range(n)) for k in range(T.shape[1])] for j in range(p)])


def _cvxpy_optimum(D, Y, reg, loss, intercept):
    return group_lasso_optimum(D, Y, reg, loss, intercept=intercept)


@pytest.mark.parametrize("dtype", [torch.uint8, torch.float32])
def test_products_are_exact_sums_within_the_bound(monkeypatch, dtype):
    monkeypatch.setattr(design_mod, "_BLOCK_ELEMS", 16)  # many row blocks
    rng = np.random.default_rng(0)
    A = (rng.random((23, 6)) < 0.4).astype(np.uint8) if dtype == torch.uint8 else rng.random((23, 6)).astype(np.float32)
    T = rng.standard_normal((23, 2))
    d = TorchDesign(torch.from_numpy(A))
    exact = _exact_tdot(A, T)
    got = d.tdot(T)
    assert got.dtype == np.float64
    err = np.sqrt(np.sum((got - exact) ** 2, axis=1))
    assert np.all(err <= d.tdot_error(T))
    assert np.allclose(got, exact, rtol=0, atol=1e-13)
    v = np.arange(23.0)
    assert np.allclose(d.sq_tdot(v), _exact_tdot(A.astype(float) ** 2, v[:, None])[:, 0], rtol=1e-14)
    assert np.allclose(d.tdot_vec(v), _exact_tdot(A, v[:, None])[:, 0], rtol=1e-14)
    assert np.allclose(d.l2_norms(), np.sqrt((A.astype(float) ** 2).sum(axis=0)), rtol=1e-14)
    idx = np.array([5, 0, 3])
    W = rng.standard_normal((3, 2))
    ref = np.array([[math.fsum(float(A[i, j]) * W[r, k] for r, j in enumerate(idx)) for k in range(2)] for i in range(23)])
    assert np.allclose(d.dot(idx, W), ref, rtol=0, atol=1e-13)
    assert d.dot(np.zeros(0, dtype=int), W[:0]).shape == (23, 2)
    assert d.n_passes == 1.0 + 3 / 6
    # the design is never modified by the products (float32 blocks are converted copies)
    assert np.array_equal(d.A.numpy(), A)


def test_float64_design_is_not_changed_by_squared_products():
    A = np.random.default_rng(1).standard_normal((9, 4))
    d = TorchDesign(torch.from_numpy(A.copy()))
    d.sq_tdot(np.ones(9))
    assert np.array_equal(d.A.numpy(), A)


def test_columns_packed_rows_and_take_rows(monkeypatch):
    monkeypatch.setattr(design_mod, "_COL_BLOCK", 2)  # several column blocks
    rng = np.random.default_rng(2)
    A = (rng.random((40, 11)) < 0.3).astype(np.uint8)
    d = TorchDesign(torch.from_numpy(A))
    idx = np.array([10, 1, 5, 5, 0])
    indptr, indices, data = d.columns(idx)
    ref = sp.csc_matrix(A[:, idx].astype(float))
    ref.sort_indices()
    assert np.array_equal(indptr, ref.indptr) and np.array_equal(indices, ref.indices)
    assert data.dtype == np.uint8 and np.array_equal(data.astype(float), ref.data)
    assert np.array_equal(d.packed_rows(), np.packbits(A.astype(bool), axis=1))
    assert d.is_binary() and not TorchDesign(torch.from_numpy(A * 2)).is_binary()
    assert TorchDesign(torch.from_numpy(A.astype(np.float32))).is_binary()
    assert not TorchDesign(torch.from_numpy(A.astype(np.float32) * 0.5)).is_binary()
    sub = d.take_rows(np.array([3, 0, 7]))
    assert isinstance(sub, TorchDesign) and sub.shape == (3, 11)
    assert np.array_equal(sub.A.numpy(), A[[3, 0, 7]])


def test_compact_dtypes_stay_on_the_tensor():
    A = torch.from_numpy((np.random.default_rng(3).random((8, 5)) < 0.5).astype(np.uint8))
    d = TorchDesign(A)
    assert d.A.dtype == torch.uint8 and d.A.data_ptr() == A.data_ptr() and d.device == A.device
    assert TorchDesign(A.bool()).A.dtype == torch.uint8
    assert TorchDesign(A.to(torch.int16)).A.dtype == torch.uint8
    assert TorchDesign(A.to(torch.int16) * 300).A.dtype == torch.float64
    assert TorchDesign(A.half()).A.dtype == torch.float32
    assert TorchDesign(A.numpy(), device="cpu").A.dtype == torch.uint8
    assert TorchDesign(A.to_sparse()).A.dtype == torch.uint8


@pytest.mark.parametrize(
    "bad, err, match",
    [
        (torch.zeros(5), ValueError, "2-D"),
        (torch.zeros(0, 3), ValueError, "empty"),
        (torch.tensor([[1.0, float("nan")]]), ValueError, "NaN"),
        (torch.zeros(2, 2, dtype=torch.complex64), TypeError, "real"),
    ],
)
def test_validation(bad, err, match):
    with pytest.raises(err, match=match):
        TorchDesign(bad)
    with pytest.raises(TypeError, match="already a Design"):
        TorchDesign(Design(np.ones((2, 2))))


def test_design_keeps_accelerator_tensors_on_their_device(monkeypatch):
    """Design(tensor on a GPU) becomes a TorchDesign; no GPU here, so the device test is patched."""
    A = torch.ones(4, 3, dtype=torch.uint8)
    assert type(Design(A)) is Design  # a CPU tensor goes the numpy way
    monkeypatch.setattr(design_mod, "_on_accelerator", lambda D: isinstance(D, torch.Tensor))
    d = Design(A)
    assert type(d) is TorchDesign and d.A.data_ptr() == A.data_ptr()


@pytest.mark.parametrize("loss", ["squared", "cross_entropy"])
def test_solve_on_torch_design_matches_numpy_path_and_clarabel(loss):
    import cvxpy  # noqa: F401  (a reference test: fails, never skips)

    rng = np.random.default_rng(4)
    A = (rng.random((50, 14)) < 0.4).astype(np.uint8)
    Y = rng.standard_normal((50, 2)) if loss == "squared" else rng.integers(0, 3, 50)
    reg, tol = 0.02, 1e-9
    ref = _cvxpy_optimum(A, Y, reg, loss, intercept=True)
    s_torch = solve(TorchDesign(torch.from_numpy(A)), Y, reg, loss, intercept=True, tol=tol)
    s_np = solve(A, Y, reg, loss, intercept=True, tol=tol)
    assert s_torch.converged and s_torch.gap <= tol
    assert s_torch.dual <= ref + 1e-10 and abs(s_torch.primal - ref) <= 1e-7
    assert s_torch.primal == pytest.approx(s_np.primal, rel=1e-10)
    assert s_torch.dual == pytest.approx(s_np.dual, rel=1e-10)
    assert np.allclose(s_torch.coef, s_np.coef, atol=1e-5)
    # dual feasibility of the returned point, checked with an independent float64 product
    price = np.linalg.norm(A.astype(float).T @ s_torch.dual_point, axis=1)
    assert price.max() <= reg * (1 + 1e-9)


def test_row_compression_runs_on_the_device():
    """Duplicate rows (n >= 64) are merged on a TorchDesign too: packed_rows and take_rows on the tensor."""
    rng = np.random.default_rng(5)
    base = (rng.random((12, 9)) < 0.5).astype(np.uint8)
    rows = rng.integers(0, 12, 150)
    A, y = base[rows], (rows % 3)
    reg = 0.01
    s_torch = solve(TorchDesign(torch.from_numpy(A)), y, reg, "cross_entropy", intercept=True, tol=1e-9)
    s_full = solve(A, y, reg, "cross_entropy", intercept=True, tol=1e-9, compress_rows=False)
    assert s_torch.converged and s_torch.primal == pytest.approx(s_full.primal, abs=2e-9)
    assert s_torch.dual_point.shape == (150, 3)
    assert np.linalg.norm(A.astype(float).T @ s_torch.dual_point, axis=1).max() <= reg * (1 + 1e-9)
