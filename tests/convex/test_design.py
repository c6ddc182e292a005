"""convex.design: compact storage, exact float64 products, the round-off bound, CSC columns."""

import math

import numpy as np
import scipy.sparse as sp
import torch

from spikeopt.convex import design as design_mod
from spikeopt.convex.design import Design


def _naive_tdot(D, T):
    n, p = D.shape
    return np.array([[math.fsum(float(D[i, j]) * T[i, k] for i in range(n)) for k in range(T.shape[1])] for j in range(p)])


def test_keeps_compact_dtypes_without_copy():
    D = (np.random.default_rng(0).random((30, 7)) < 0.5).astype(np.uint8)
    d = Design(D)
    assert d.A.dtype == np.uint8 and np.shares_memory(d.A, D)
    assert Design(D.astype(bool)).A.dtype == np.uint8
    assert Design(D.astype(np.float32)).A.dtype == np.float32
    assert Design(torch.from_numpy(D)).A.dtype == np.uint8


def test_products_match_exact_sums_and_error_bound_holds(monkeypatch):
    monkeypatch.setattr(design_mod, "_BLOCK_ELEMS", 16)  # force many row blocks
    rng = np.random.default_rng(1)
    D = rng.random((25, 6)).astype(np.float32)
    T = rng.standard_normal((25, 3))
    d = Design(D)
    exact = _naive_tdot(D, T)
    got = d.tdot(T)
    err = np.sqrt(np.sum((got - exact) ** 2, axis=1))
    assert np.all(err <= d.tdot_error(T))
    assert np.allclose(got, exact, rtol=0, atol=1e-13)
    idx = np.array([4, 0, 2])
    W = rng.standard_normal((3, 3))
    assert np.allclose(d.dot(idx, W), D[:, idx].astype(float) @ W, atol=1e-13)
    assert np.allclose(d.sq_tdot(np.arange(25.0)), (D.astype(float) ** 2).T @ np.arange(25.0))
    assert d.n_passes == 1.0 + 3 / 6


def test_uint8_products_in_place_match_exact_sums_across_column_blocks(monkeypatch):
    from spikeopt.convex import kernels

    monkeypatch.setattr(design_mod, "_TDOT_COLUMNS", 4)  # 11 columns: blocks of 4, 4 and 3
    rng = np.random.default_rng(2)
    D = rng.integers(0, 5, (40, 11)).astype(np.uint8)  # spike counts, not only 0/1
    T = rng.standard_normal((40, 3))
    T[5] = 0.0  # rows whose weight is zero are skipped
    v = rng.random(40)
    d = Design(D)
    exact = _naive_tdot(D, T)
    got = d.tdot(T)
    assert np.all(np.sqrt(np.sum((got - exact) ** 2, axis=1)) <= d.tdot_error(T))
    assert np.allclose(got, exact, rtol=0, atol=1e-13)
    assert np.allclose(d.tdot_vec(v), _naive_tdot(D, v[:, None])[:, 0], rtol=0, atol=1e-13)
    assert np.allclose(d.sq_tdot(v), _naive_tdot(D.astype(float) ** 2, v[:, None])[:, 0], rtol=0, atol=1e-12)
    monkeypatch.setattr(kernels, "HAVE_NUMBA", False)  # the BLAS fallback gives the same products
    assert np.allclose(Design(D).tdot(T), got, rtol=0, atol=1e-13)
    assert np.allclose(Design(D).sq_tdot(v), d.sq_tdot(v), rtol=0, atol=1e-12)


def test_columns_are_the_csc_of_the_selection():
    rng = np.random.default_rng(2)
    D = (rng.random((40, 9)) < 0.3).astype(np.uint8)
    idx = np.array([8, 1, 5])
    for src in (D, sp.csr_matrix(D.astype(float) * 0 + D)):
        indptr, indices, data = Design(src).columns(idx)
        ref = sp.csc_matrix(D[:, idx].astype(float))
        assert np.array_equal(indptr, ref.indptr) and np.array_equal(indices, ref.indices)
        assert np.array_equal(data.astype(float), ref.data)


def test_binary_check_and_packed_rows():
    D = np.array([[0, 1, 1], [1, 0, 0]], dtype=np.uint8)
    assert Design(D).is_binary() and not Design(D * 2).is_binary()
    assert np.array_equal(Design(D).packed_rows(), np.packbits(D.astype(bool), axis=1))
