"""Grow a spike dictionary with atoms the dual asks for (column generation).

After a solve, fresh candidate witnesses are sampled, the training inputs rolled through them, and
each candidate atom ``d`` is priced by its dual constraint ``||d^T Theta||`` (``solution.price``).
An atom pricing above ``reg`` would lower the objective if it were in the dictionary; the most
violating ones are added (duplicates of existing atoms are skipped) and the problem is re-solved
warm from the previous solution. The loop stops when no sampled candidate violates or the round
budget is spent. The last batch of candidates is always priced against the *returned* solution,
so its largest violation ``max price / reg`` is a sampled certificate: if it is ``<= 1``, no atom
among those fresh witnesses would improve the readout.

Knows nothing of tasks: the sampler proposes witness networks, the caller's ``solve_fn`` solves.
"""

from __future__ import annotations

import dataclasses

import time
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
import torch

from spikeopt.convex.combine import concat_witnesses
from spikeopt.convex.dictionary import SpikeDictionary, build_dictionary
from spikeopt.convex.solution import ConvexSolution
from spikeopt.snn.network import ParallelLIFSNN

Sampler = Callable[[int], ParallelLIFSNN]
SolveFn = Callable[[np.ndarray, Any], ConvexSolution]


@dataclass
class GrowRound:
    """What one pricing round saw and did."""

    round: int
    candidate_atoms: int  # distinct non-zero candidate atoms priced
    violating: int  # of them, pricing above reg
    max_violation: float  # largest price / reg among them (0 when no candidate atom)
    added: int  # atoms added to the dictionary this round
    atoms: int  # dictionary size after the round
    primal: float  # objective after the round's re-solve (before it for the last round)
    gap: float
    converged: bool
    time_s: float

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass
class GrowResult:
    solution: ConvexSolution
    dictionary: SpikeDictionary
    witnesses: ParallelLIFSNN
    rounds: list[GrowRound] = field(default_factory=list)
    last_candidates: np.ndarray | None = None  # atoms of the last priced batch [rows, m]
    last_prices: np.ndarray | None = None

    @property
    def max_violation(self) -> float:
        return self.rounds[-1].max_violation if self.rounds else float("nan")


def column_keys(atoms: np.ndarray) -> set[bytes]:
    """One byte string per column of a 0/1 matrix: equal columns give equal keys."""
    packed = np.packbits(np.asarray(atoms, dtype=np.uint8), axis=0).T
    return {row.tobytes() for row in np.ascontiguousarray(packed)}


def extend_dictionary(
    dictionary: SpikeDictionary, witnesses: ParallelLIFSNN, candidates: SpikeDictionary,
    candidate_net: ParallelLIFSNN, columns: np.ndarray,
) -> tuple[SpikeDictionary, ParallelLIFSNN]:
    """``dictionary`` plus the candidate atoms ``columns``, and the one witness network generating all atoms.

    Only the candidate subnetworks that generate an added atom join the witness network (after the
    existing ones); the new atoms' sources point into it.
    """
    columns = np.asarray(columns, dtype=np.int64)
    if columns.size == 0:
        return dictionary, witnesses
    if candidates.atoms.shape[0] != dictionary.atoms.shape[0]:
        raise ValueError(f"candidate atoms have {candidates.atoms.shape[0]} rows, the dictionary {dictionary.atoms.shape[0]}")
    subnets, slot = np.unique(candidates.source[columns, 0], return_inverse=True)
    combined = concat_witnesses([witnesses, candidate_net], [None, torch.as_tensor(subnets)])
    source = np.stack([witnesses.subnetworks + slot, candidates.source[columns, 1]], axis=1).astype(np.int64)
    grown = dataclasses.replace(  # the dictionary's counts and settings (leak, layout) carry over
        dictionary,
        atoms=np.ascontiguousarray(np.hstack([dictionary.atoms, candidates.atoms[:, columns].astype(dictionary.atoms.dtype)])),
        source=np.vstack([dictionary.source, source]),
        raw_columns=dictionary.raw_columns + int(columns.size),
    )
    return grown, combined


def grow_dictionary(
    witnesses: ParallelLIFSNN,
    dictionary: SpikeDictionary,
    solution: ConvexSolution,
    x: torch.Tensor,
    sampler: Sampler,
    solve_fn: SolveFn,
    rounds: int,
    add: int,
    seeds: Callable[[int], int],
    chunk_size: int = 1024,
    device: torch.device | str | None = None,
) -> GrowResult:
    """Price fresh candidates against ``solution``, add the most violating atoms, re-solve; ``rounds`` times at most.

    ``sampler(seeds(r))`` gives round ``r``'s candidate witnesses; ``solve_fn(atoms, warm_start)``
    re-solves over the grown atoms (it decides what an unconverged solve means). Round ``rounds``
    (the last) only prices, so the reported violation is always against the returned solution.
    """
    if isinstance(rounds, bool) or not isinstance(rounds, int) or rounds < 0:
        raise ValueError(f"rounds must be an integer >= 0, got {rounds!r}")
    if isinstance(add, bool) or not isinstance(add, int) or add < 1:
        raise ValueError(f"add must be an integer >= 1 (atoms added per round), got {add!r}")
    result = GrowResult(solution, dictionary, witnesses)
    reg = float(solution.reg)
    for r in range(rounds + 1):
        t0 = time.perf_counter()
        net = sampler(seeds(r))
        cand = build_dictionary(net, x, dictionary.layout, chunk_size, device=device, leak=dictionary.leak, progress=False)
        prices = result.solution.price(cand.atoms) if cand.n_atoms else np.zeros(0)
        violation = prices / reg
        result.last_candidates, result.last_prices = cand.atoms, prices
        record = GrowRound(
            round=r, candidate_atoms=cand.n_atoms, violating=int((violation > 1.0).sum()),
            max_violation=float(violation.max()) if violation.size else 0.0, added=0,
            atoms=result.dictionary.n_atoms, primal=result.solution.primal, gap=result.solution.gap,
            converged=result.solution.converged, time_s=0.0,
        )
        result.rounds.append(record)
        if r == rounds or record.violating == 0:
            record.time_s = time.perf_counter() - t0
            break
        existing = column_keys(result.dictionary.atoms)
        keys = np.packbits(cand.atoms, axis=0).T
        order = np.argsort(-prices, kind="stable")
        chosen = [j for j in order if violation[j] > 1.0 and np.ascontiguousarray(keys[j]).tobytes() not in existing][:add]
        if not chosen:  # every violator duplicates an atom (possible only through round-off)
            record.time_s = time.perf_counter() - t0
            break
        grown, combined = extend_dictionary(result.dictionary, result.witnesses, cand, net, np.array(chosen))
        warm = np.vstack([result.solution.coef, np.zeros((len(chosen), result.solution.coef.shape[1]))])
        solution = solve_fn(grown.atoms, (warm, result.solution.intercept))
        result.solution, result.dictionary, result.witnesses = solution, grown, combined
        record.added, record.atoms = len(chosen), grown.n_atoms
        record.primal, record.gap, record.converged = solution.primal, solution.gap, solution.converged
        record.time_s = time.perf_counter() - t0
    return result
