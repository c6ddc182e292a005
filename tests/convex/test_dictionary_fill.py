"""Growing a dictionary to a target size; the integrate layout; diagnostics, warnings, progress, memory errors."""

import itertools

import numpy as np
import pytest
import torch

import spikeopt.convex.dictionary as dictionary_module
from spikeopt.convex.calibrate import calibrated_witnesses
from spikeopt.convex.dictionary import build_dictionary
from spikeopt.convex.dictionary_fill import fill_dictionary
from spikeopt.convex.witnesses import gaussian_witnesses
from spikeopt.snn.config import ModelConfig


def naive_integrate(spikes, leak):
    """sum_t leak^(T-1-t) s_t / sum_t leak^(T-1-t), by a Python loop over t."""
    steps = spikes.shape[0]
    acc, norm = torch.zeros_like(spikes[0]), 0.0
    for t in range(steps):
        acc = acc + leak ** (steps - 1 - t) * spikes[t]
        norm += leak ** (steps - 1 - t)
    return (acc / norm).numpy()


def gaussian_sampler(features, model, scale=1.0):
    return lambda b: gaussian_witnesses(features, model, scale=scale, seed=100 + b)


@pytest.mark.parametrize("layout, leak", [("final", 1.0), ("integrate", 1.0), ("integrate", 0.8)])
def test_grown_atoms_are_informative_distinct_and_generated_by_their_witness(layout, leak, naive_spikes, series):
    x = series(n=80, steps=12)
    model = ModelConfig(subnetworks=4, width=8)
    d, net = fill_dictionary(gaussian_sampler(2, model, 2.0), x, 60, layout, leak=leak, near=0.02)
    assert d.n_atoms == 60 and d.blocks >= 2  # one block has 32 neurons
    spikes = naive_spikes(net, x)
    raw = spikes[-1].numpy() if layout == "final" else naive_integrate(spikes, leak)
    for a, (k, j) in enumerate(d.source):
        assert np.allclose(d.atoms[:, a], raw[:, k * net.width + j], atol=1e-6)
    cols = d.atoms.astype(np.float64)
    assert all(c.min() < c.max() for c in cols.T)  # no constant atom
    for i, j in itertools.combinations(range(d.n_atoms), 2):  # no pair within the near-duplicate distance
        if layout == "final":  # binary: differ on at least 2% of the rows
            assert ((cols[:, i] - cols[:, j]) ** 2).mean() >= 0.02
        else:  # real-valued: correlation at most 0.98
            assert np.corrcoef(cols[:, i], cols[:, j])[0, 1] <= 0.98 + 1e-6
    s = d.summary()
    assert d.raw_columns == (d.zero_columns + d.rejected_constant + d.duplicate_columns
                             + d.near_duplicate_columns + d.surplus_columns + d.n_atoms)
    assert s["raw_columns"] == 32 * d.blocks


def test_near_duplicates_are_removed_and_counted():
    # a binary input with 2 steps gives few distinct spike patterns: many exact and near duplicates
    x = (torch.rand(2, 300, 3, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    model = ModelConfig(subnetworks=8, width=8)
    loose, _ = fill_dictionary(gaussian_sampler(3, model, 2.0), x, 40, "final", near=0.05, max_blocks=6)
    exact, _ = fill_dictionary(gaussian_sampler(3, model, 2.0), x, 40, "final", near=0.0, max_blocks=6)
    assert loose.near_duplicate_columns > 0 and exact.near_duplicate_columns == 0
    assert loose.n_atoms == 40
    cols = exact.atoms.astype(np.float64)
    closest = min(((cols[:, i] - cols[:, j]) ** 2).mean() for i, j in itertools.combinations(range(exact.n_atoms), 2))
    assert closest < 0.05  # without the filter, near pairs are kept (so the filter above had work to do)


def test_too_few_atoms_warns_and_returns_what_it_found():
    x = (torch.rand(2, 50, 1, generator=torch.Generator().manual_seed(0)) > 0.5).float()  # 4 distinct rows
    with pytest.warns(UserWarning, match="raise max_blocks or lower atoms"):
        d, _ = fill_dictionary(gaussian_sampler(1, ModelConfig(subnetworks=2, width=4)), x, 100, max_blocks=3)
    assert 0 < d.n_atoms < 100 and d.blocks == 3


def test_a_soft_target_stops_at_a_block_that_yields_too_little():
    """Four distinct input rows admit few distinct atoms: with ``min_yield`` the fill stops at the
    first block adding fewer than that fraction of its 8 columns, silently; the blocks before it
    are those drawn without ``min_yield`` (its atoms are a prefix of theirs)."""
    import warnings

    x = (torch.rand(2, 50, 1, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    model = ModelConfig(subnetworks=2, width=4)
    with pytest.warns(UserWarning, match="raise max_blocks"):
        hard, _ = fill_dictionary(gaussian_sampler(1, model), x, 100, max_blocks=12)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        soft, _ = fill_dictionary(gaussian_sampler(1, model), x, 100, max_blocks=12, min_yield=0.25)
    assert not [w for w in caught if "max_blocks" in str(w.message)]
    assert 1 <= soft.blocks < hard.blocks and 0 < soft.n_atoms < hard.n_atoms
    assert np.array_equal(soft.atoms, hard.atoms[:, : soft.n_atoms])


def test_min_yield_is_a_fraction():
    x = torch.rand(3, 10, 1)
    with pytest.raises(ValueError, match="min_yield"):
        fill_dictionary(gaussian_sampler(1, ModelConfig(subnetworks=2, width=4)), x, 5, min_yield=1.5)


def test_integrate_layout_of_build_dictionary_matches_a_naive_loop(naive_spikes, series):
    x = series(n=40, steps=9)
    net = gaussian_witnesses(2, ModelConfig(subnetworks=3, width=5), scale=2.0, seed=0)
    d = build_dictionary(net, x, "integrate", leak=0.7, chunk_size=7)
    raw = naive_integrate(naive_spikes(net, x), 0.7)
    assert d.atoms.dtype == np.float32
    for a, (k, j) in enumerate(d.source):
        assert np.allclose(d.atoms[:, a], raw[:, k * 5 + j], atol=1e-6)
    assert d.n_atoms + d.zero_columns + d.duplicate_columns == 15


def test_silent_witnesses_warn_with_the_fraction_and_the_fix(series):
    x = series(n=60, steps=10) * 0.1
    net = gaussian_witnesses(2, ModelConfig(subnetworks=4, width=8), seed=0)
    d = build_dictionary(net, x, "final")
    assert d.summary()["silent_fraction"] > 0.2
    with pytest.warns(UserWarning, match=r"\d+% of the witness neurons are silent.*calibrated"):
        d.warn_if_weak()
    calib, _ = calibrated_witnesses(x, ModelConfig(subnetworks=4, width=8), seed=0)
    good = build_dictionary(calib, x, "final")
    assert good.summary()["silent_fraction"] == 0 and good.summary()["saturated_fraction"] == 0
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        good.warn_if_weak()


def test_memory_error_advice_depends_on_the_layout(series):
    net = gaussian_witnesses(2, ModelConfig(subnetworks=4, width=8), seed=0)
    x = series(n=50, steps=6)
    with pytest.raises(MemoryError) as final:
        build_dictionary(net, x, "final", max_memory=100)
    assert "'final' layout" not in str(final.value) and "GiB" in str(final.value)
    with pytest.raises(MemoryError, match="use the 'final' layout"):
        build_dictionary(net, x, "trajectory", max_memory=100)
    with pytest.raises(MemoryError, match="60 atoms over 50 rows.*not enough for even one atom") as grow:
        fill_dictionary(gaussian_sampler(2, ModelConfig(subnetworks=4, width=8)), x, 60, max_memory=100)
    assert "'final' layout" not in str(grow.value)


def test_a_dictionary_too_large_for_the_budget_is_capped_to_what_fits(series):
    x = series(n=50, steps=6)
    sampler = gaussian_sampler(2, ModelConfig(subnetworks=4, width=8))
    # hand-computed from estimate_grow_memory's terms, final layout (uint8, 50 rows, 32-neuron blocks, chunk 50):
    # per atom: 50 kept bytes + 7 key bytes + 50 sketch bytes * 4 = 257; without atoms:
    # block 50*32*2 + keys 7*32 + sketch 50*64*4 + rollout 4*6*50*32*4 = 3200 + 224 + 12800 + 153600 = 169824
    base, per_atom = 169_824, 257
    limit = base + 20 * per_atom + 100  # room for 20 atoms, not 21
    with pytest.warns(UserWarning, match="building the 20 atoms that fit"):
        capped, _ = fill_dictionary(sampler, x, 60, max_memory=limit)
    assert capped.n_atoms == 20 and capped.summary()["requested_atoms"] == 60
    full, _ = fill_dictionary(sampler, x, 20)
    np.testing.assert_array_equal(capped.atoms, full.atoms)  # the same atoms a request of 20 builds


def test_progress_goes_to_stderr_only_when_asked(monkeypatch, capsys, series):
    monkeypatch.setattr(dictionary_module._Progress, "delay", 0.0)
    monkeypatch.setattr(dictionary_module._Progress, "interval", 0.0)
    x = series(n=30, steps=5)
    sampler = gaussian_sampler(2, ModelConfig(subnetworks=2, width=8), 2.0)
    fill_dictionary(sampler, x, 20, progress=False)
    assert capsys.readouterr().err == ""
    fill_dictionary(sampler, x, 20, progress=True)
    assert "spike dictionary: block 1" in capsys.readouterr().err
    build_dictionary(sampler(0), x, progress=True, chunk_size=8)
    assert "samples" in capsys.readouterr().err


@pytest.mark.parametrize("kwargs, match", [({"atoms": 0}, "atoms"), ({"near": 1.0}, "near"),
                                           ({"max_blocks": 0}, "max_blocks"), ({"layout": "mean"}, "layout"),
                                           ({"leak": 1.5}, "leak")])
def test_bad_grow_arguments_are_named(kwargs, match, series):
    args = {"atoms": 5, **kwargs}
    with pytest.raises(ValueError, match=match):
        fill_dictionary(gaussian_sampler(2, ModelConfig(subnetworks=1, width=4)), series(n=10, steps=3), **args)


def test_concatenated_network_holds_only_the_subnetworks_that_generate_atoms(series):
    x = series(n=64, steps=8)
    model = ModelConfig(subnetworks=6, width=4)
    d, net = fill_dictionary(gaussian_sampler(2, model, 2.0), x, 30, "final", near=0.0)
    assert net.subnetworks == len(np.unique(d.source[:, 0])) <= d.blocks * 6
    assert sorted(set(d.source[:, 0])) == list(range(net.subnetworks))


def test_integrate_near_duplicates_are_judged_by_correlation(series):
    # rates with similar means but different variation over the samples are kept (raw squared
    # differences called ~99% of calibrated rates near-duplicates on small UCR training sets)
    x = series(n=60, steps=20)
    model = ModelConfig(subnetworks=4, width=8)
    d, _ = fill_dictionary(lambda b: calibrated_witnesses(x, model, "integrate", seed=b)[0], x, 50, "integrate")
    assert d.n_atoms == 50
    corr = np.corrcoef(d.atoms.T.astype(np.float64))
    assert (corr[np.triu_indices(50, 1)] <= 0.995 + 1e-6).all()


@pytest.mark.parametrize("block", [1, 7, 2**22])
def test_near_duplicate_mask_equals_a_pairwise_loop_whatever_the_block(block, monkeypatch):
    """Candidates against the kept columns in blocks of ``block`` entries: the mask of a naive
    greedy loop over every pair (kept first, then earlier accepted candidates)."""
    from spikeopt.convex import dictionary_fill

    monkeypatch.setattr(dictionary_fill, "_NEAR_BLOCK", block)
    rng = np.random.default_rng(3)
    kept = (rng.random((40, 9)) < 0.5).astype(np.float32)
    cand = np.concatenate([kept[:, :3], (rng.random((40, 6)) < 0.5).astype(np.float32)], axis=1)
    cand[0, 0] = 1 - cand[0, 0]  # differs from a kept column on one row of 40: near at 0.05, not at 0.02
    cand[:, 5] = cand[:, 4]  # an exact copy of an earlier candidate
    for near in (0.02, 0.05, 0.3):
        accepted: list[np.ndarray] = []
        expected = []
        for i in range(cand.shape[1]):
            c = cand[:, i]
            close = any(((c - k) ** 2).mean() < near for k in [*kept.T, *accepted])
            expected.append(close)
            if not close:
                accepted.append(c)
        got = dictionary_fill._near_duplicates(cand, kept, near)
        assert got.tolist() == expected
    assert got.any() and not got.all()
