"""Column generation on a tiny problem: prices checked by a plain loop, monotone objective, exact rebuild."""

import numpy as np
import pytest
import torch

from spikeopt.convex import build_dictionary, reconstruct, solve
from spikeopt.convex.column_generation import column_keys, grow_dictionary
from spikeopt.convex.witnesses import gaussian_witnesses
from spikeopt.snn.config import ModelConfig
from spikeopt.tasks import make_task

REG, TOL = 1e-2, 1e-7


@pytest.fixture(scope="module")
def grown():
    task = make_task("first-last-xor", steps=4, n_train=160, n_val=20, n_test=20)
    train = task.splits(0)["train"]
    y = train.y.numpy()
    heads = list(task.heads)
    witnesses = gaussian_witnesses(task.in_features, ModelConfig(subnetworks=1, width=3), seed=5)
    D = build_dictionary(witnesses, train.x, "final")
    first = solve(D.atoms, y, REG, loss=heads, tol=TOL)
    candidates = ModelConfig(subnetworks=6, width=3)

    def sampler(seed):
        return gaussian_witnesses(task.in_features, candidates, 1.5, seed=seed)

    def solve_fn(atoms, warm):
        return solve(atoms, y, REG, loss=heads, tol=TOL, warm_start=warm)

    result = grow_dictionary(witnesses, D, first, train.x, sampler, solve_fn, rounds=30, add=3,
                             seeds=lambda r: 100 + r)
    return task, train, first, result, sampler


def test_growth_added_atoms_and_stopped_without_violators(grown):
    _, _, first, result, _ = grown
    assert sum(r.added for r in result.rounds) > 0
    assert result.dictionary.n_atoms > first.n_atoms
    assert result.rounds[-1].added == 0 and result.max_violation <= 1.0  # stopped: nothing violates


def test_last_candidates_priced_by_a_plain_loop(grown):
    _, _, _, result, _ = grown
    theta = result.solution.dual_point
    cand = result.last_candidates.astype(float)
    naive = np.array([np.linalg.norm(sum(cand[i, j] * theta[i] for i in range(cand.shape[0])))
                      for j in range(cand.shape[1])])
    np.testing.assert_allclose(result.last_prices, naive, rtol=1e-10, atol=1e-14)
    assert naive.max() <= REG * (1 + 1e-9)
    assert result.max_violation == pytest.approx(naive.max() / REG, rel=1e-10)


def test_objective_never_increases_across_rounds(grown):
    _, _, first, result, _ = grown
    primals = [first.primal] + [r.primal for r in result.rounds]
    for before, after in zip(primals, primals[1:]):
        assert after <= before + TOL
    assert primals[-1] < primals[0] - 1e-4  # growth paid: the dictionary was too small


def test_atoms_are_distinct_and_generated_by_their_witnesses(grown):
    _, train, _, result, _ = grown
    D = result.dictionary
    assert len(column_keys(D.atoms)) == D.n_atoms  # no duplicate was added
    spikes = result.witnesses.hidden_spikes(train.x)[-1].to(torch.uint8).numpy()  # [N, K, m]
    for col, (k, j) in enumerate(D.source):
        np.testing.assert_array_equal(D.atoms[:, col], spikes[:, k, j])


def test_rebuilt_network_outputs_the_grown_predictor(grown):
    task, train, _, result, _ = grown
    sol = result.solution
    net, report = reconstruct(result.witnesses, result.dictionary, sol.coef, sol.intercept, task.readout)
    out, _ = net(train.x.to(net.output.weight.dtype))
    expected = result.dictionary.atoms.astype(float) @ sol.coef + sol.intercept
    np.testing.assert_allclose(out.detach().double().numpy(), expected, atol=1e-4)
    assert report.active_atoms == len(sol.active)


def test_zero_rounds_only_prices(grown):
    task, train, first, _, sampler = grown
    witnesses = gaussian_witnesses(task.in_features, ModelConfig(subnetworks=1, width=3), seed=5)
    D = build_dictionary(witnesses, train.x, "final")

    def never(atoms, warm):
        raise AssertionError("no re-solve with rounds=0")

    out = grow_dictionary(witnesses, D, first, train.x, sampler, never, rounds=0, add=3, seeds=lambda r: 100 + r)
    assert len(out.rounds) == 1 and out.rounds[0].added == 0 and out.solution is first
    with pytest.raises(ValueError, match="rounds"):
        grow_dictionary(witnesses, D, first, train.x, sampler, never, rounds=-1, add=3, seeds=lambda r: r)
