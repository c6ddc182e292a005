"""Dictionaries grown to a target size: witness blocks drawn until ``atoms`` informative atoms are kept.

Split from ``dictionary.py`` (which rolls one witness network into a dictionary): this module draws
block after block, rejects constant, duplicate and near-duplicate columns, and caps the target to the
memory available.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable

import numpy as np
import torch

from spikeopt.convex.dictionary import (
    _NEAR_ROWS,
    SpikeDictionary,
    _check_layout,
    _column_keys,
    _itemsize,
    _Progress,
    _saturated,
    available_memory,
    roll,
    row_count,
)
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.validation import check_int, check_number

# entries of one candidates x kept distance block (16 MiB of float32): the whole matrix was several
# temporaries of candidates x dictionary size, most of a 32,768-atom build's near-duplicate time
_NEAR_BLOCK = 2**22


def estimate_grow_memory(rows: int, atoms: int, block_columns: int, steps: int, chunk: int, itemsize: int) -> int:
    """Bytes :func:`fill_dictionary` needs: kept atoms, one raw block, keys, near-duplicate sketches, a rollout."""
    kept = rows * atoms * itemsize
    block = rows * block_columns * itemsize * 2  # raw block and its candidate copy
    keys = ((rows + 7) // 8 if itemsize == 1 else rows * itemsize) * (atoms + block_columns)
    sketch = min(rows, _NEAR_ROWS) * (atoms + 2 * block_columns) * 4
    rollout = 4 * steps * chunk * block_columns * 4
    return kept + block + keys + sketch + rollout


def atoms_within(rows: int, atoms: int, block_columns: int, steps: int, chunk: int, itemsize: int, limit: int,
                 layout: str) -> int:
    """``atoms``, or the most atoms whose dictionary fits in ``limit`` bytes (with a warning that says so).

    A user who asks for a large dictionary wants the largest that fits, not an error: the estimate is
    linear in the atoms, so the cap is exact for it. Only when not even one atom fits is it an error.
    """
    need = estimate_grow_memory(rows, atoms, block_columns, steps, chunk, itemsize)
    if need <= limit:
        return atoms
    base = estimate_grow_memory(rows, 0, block_columns, steps, chunk, itemsize)
    per_atom = estimate_grow_memory(rows, 1, block_columns, steps, chunk, itemsize) - base
    cap = (limit - base) // per_atom
    if cap < 1:
        fixes = "lower the training samples or chunk_size, or free memory"
        if layout == "trajectory":
            fixes += ", or use the 'final' layout"
        raise MemoryError(
            f"a {layout} dictionary of {atoms} atoms over {rows} rows (blocks of {block_columns} neurons, {steps} "
            f"steps) needs about {need / 2**30:.2f} GiB but only {limit / 2**30:.2f} GiB is allowed, not enough for "
            f"even one atom; {fixes}"
        )
    warnings.warn(
        f"a {layout} dictionary of {atoms} atoms over {rows} rows needs about {need / 2**30:.2f} GiB but only "
        f"{limit / 2**30:.2f} GiB is allowed: building the {cap} atoms that fit (free memory, or lower the "
        "training samples, for more)", stacklevel=3,
    )
    return int(cap)


def _sketch(columns: np.ndarray) -> np.ndarray:
    """float32 columns whose mean squared difference is the near-duplicate distance.

    Binary atoms as they are: the distance is the fraction of rows on which two atoms differ.
    Real-valued atoms (integrate layout) centred and scaled to unit root mean square: the distance
    is ``2 (1 - correlation)``. (Raw squared differences would call two firing rates with similar
    means near-duplicates however differently they vary over the samples.)
    """
    out = columns.astype(np.float32)
    if columns.dtype == np.uint8:
        return out
    out -= out.mean(axis=0)
    out /= np.maximum(np.sqrt((out * out).mean(axis=0)), 1e-12)
    return out


def _near_duplicates(cand: np.ndarray, kept: np.ndarray, near: float) -> np.ndarray:
    """Mask of candidate columns (greedily, in order) within mean squared difference ``near`` of a kept
    column or of an earlier accepted candidate. ``cand [R, c]``, ``kept [R, k]``, float32 sketches."""
    rows = cand.shape[0]
    sq_c = (cand * cand).sum(0)
    reject = np.zeros(cand.shape[1], dtype=bool)
    step = max(1, _NEAR_BLOCK // max(1, cand.shape[1]))  # kept columns per block: temporaries stay small
    for j0 in range(0, kept.shape[1], step):
        block = kept[:, j0 : j0 + step]
        msd = (sq_c[:, None] + (block * block).sum(0)[None, :] - 2.0 * (cand.T @ block)) / rows
        reject |= (msd < near).any(axis=1)
    inner = (sq_c[:, None] + sq_c[None, :] - 2.0 * (cand.T @ cand)) / rows < near
    for i in range(cand.shape[1]):
        if not reject[i]:
            later = inner[i].copy()
            later[: i + 1] = False
            reject |= later
    return reject


def fill_dictionary(
    sample: Callable[[int], ParallelLIFSNN],
    x: torch.Tensor,
    atoms: int,
    layout: str = "final",
    leak: float = 1.0,
    near: float = 0.005,
    chunk_size: int = 1024,
    max_blocks: int = 64,
    max_memory: int | None = None,
    device: torch.device | str | None = None,
    progress: bool = False,
    seed: int = 0,
    min_yield: float = 0.0,
) -> tuple[SpikeDictionary, ParallelLIFSNN]:
    """Draw witness blocks ``sample(0), sample(1), ...`` until the dictionary has ``atoms`` informative atoms.

    Rejected: constant columns (silent, saturated or any other constant: without variation an atom
    only duplicates the intercept), exact duplicates and *near*-duplicates: binary atoms that differ
    from a kept atom on fewer than ``near`` of the rows (0.5% by default); real-valued (integrate)
    atoms whose correlation with a kept atom exceeds ``1 - near``. Such a pair carries the same
    information up to a handful of rows; keeping both only makes the design ill-conditioned and the
    solve slower.
    Near-duplicates are judged on all rows up to 2048, else on a fixed seeded subsample of 2048.
    ``near=0`` keeps every distinct column.

    Returns the dictionary and one witness network: the blocks' subnetworks that generate a kept
    atom, concatenated (subnetworks are independent, so this changes no spike); ``source`` indexes it.
    At most ``max_blocks`` blocks are drawn; if they do not give ``atoms`` atoms a warning says so.
    ``min_yield`` > 0 makes ``atoms`` a soft target: drawing also stops, without a warning, after a
    block whose new atoms are fewer than ``min_yield`` of its columns (the data admit few more
    distinct informative atoms: inputs with few distinct sequences saturate long before the target,
    and the remaining blocks would be rolled and calibrated for almost nothing).
    The memory is estimated before building: a dictionary that would not fit is capped to the atoms
    that do, with a warning (``requested_atoms`` keeps the request); ``MemoryError`` only when not even
    one atom fits.
    """
    from spikeopt.convex.witnesses import concat_subnetworks

    _check_layout(layout, chunk_size, leak)
    check_int(atoms, "atoms (the target dictionary size)", 1)
    check_number(min_yield, "min_yield (a fraction of a block's columns)", 0.0, 1.0)
    if not 0.0 <= near < 1.0:
        raise ValueError(f"near must be in [0, 1) (a mean squared difference), got {near!r}")
    if isinstance(max_blocks, bool) or not isinstance(max_blocks, int) or max_blocks < 1:
        raise ValueError(f"max_blocks must be a positive integer, got {max_blocks!r}")
    first = sample(0)
    first.check_input(x)
    steps, samples, _ = x.shape
    rows = row_count(layout, steps, samples)
    cols = first.subnetworks * first.width
    itemsize = _itemsize(layout, first)
    requested = atoms
    atoms = atoms_within(rows, atoms, cols, steps, min(chunk_size, samples), itemsize,
                         available_memory() if max_memory is None else max_memory, layout)
    near_rows = np.arange(rows) if rows <= _NEAR_ROWS else np.sort(
        np.random.default_rng(seed).choice(rows, _NEAR_ROWS, replace=False))
    kept_atoms: np.ndarray | None = None
    sketch = np.empty((len(near_rows), atoms), dtype=np.float32)
    keys: set[bytes] = set()
    source: list[tuple[int, int, int]] = []
    nets: list[ParallelLIFSNN] = []
    counts = dict(raw=0, zero=0, saturated=0, constant=0, duplicate=0, near=0, surplus=0)
    bar = _Progress(progress, "spike dictionary")
    n_kept = 0
    saturated = False
    for b in range(max_blocks):
        net = first if b == 0 else sample(b)
        if net.subnetworks * net.width != cols or net.depth != first.depth:
            raise ValueError("every witness block must have the same subnetworks, width and depth")
        nets.append(net)
        raw = roll(net, x, layout, leak, chunk_size, device)
        if kept_atoms is None:
            kept_atoms = np.empty((rows, atoms), dtype=raw.dtype)
        zero = ~raw.any(axis=0)
        const = (raw == raw[:1]).all(axis=0)
        counts["raw"] += cols
        counts["zero"] += int(zero.sum())
        counts["saturated"] += int(_saturated(raw).sum())
        counts["constant"] += int((const & ~zero).sum())
        cand = np.flatnonzero(~const)
        fresh, block_keys = [], []
        for i, key in zip(cand, _column_keys(raw[:, cand])):
            key = key.tobytes()
            if key in keys or key in block_keys:
                counts["duplicate"] += 1
            else:
                fresh.append(i)
                block_keys.append(key)
        fresh_arr = np.asarray(fresh, dtype=np.int64)
        if near > 0 and len(fresh_arr):
            cand_sketch = _sketch(raw[np.ix_(near_rows, fresh_arr)])
            reject = _near_duplicates(cand_sketch, sketch[:, :n_kept], near if raw.dtype == np.uint8 else 2 * near)
            counts["near"] += int(reject.sum())
            fresh_arr = fresh_arr[~reject]
            block_keys = [k for k, r in zip(block_keys, reject) if not r]
        room = atoms - n_kept
        counts["surplus"] += max(0, len(fresh_arr) - room)
        fresh_arr, block_keys = fresh_arr[:room], block_keys[:room]
        kept_atoms[:, n_kept : n_kept + len(fresh_arr)] = raw[:, fresh_arr]
        sketch[:, n_kept : n_kept + len(fresh_arr)] = _sketch(raw[np.ix_(near_rows, fresh_arr)])
        keys.update(block_keys)
        k, j = np.divmod(fresh_arr, net.width)
        source.extend((b, int(kk), int(jj)) for kk, jj in zip(k, j))
        n_kept += len(fresh_arr)
        bar.update(f"block {b + 1}, {n_kept}/{atoms} atoms")
        if n_kept == atoms:
            break
        if len(fresh_arr) < min_yield * cols:
            saturated = True
            break
    bar.close()
    if n_kept < atoms and not saturated:
        warnings.warn(
            f"only {n_kept} of {atoms} informative atoms after {max_blocks} witness blocks "
            f"({counts['zero'] + counts['constant']} constant, {counts['duplicate']} duplicate, "
            f"{counts['near']} near-duplicate); raise max_blocks or lower atoms",
            stacklevel=2,
        )
    assert kept_atoms is not None
    witnesses, src = concat_subnetworks(nets, np.asarray(source, dtype=np.int64).reshape(-1, 3))
    dictionary = SpikeDictionary(
        atoms=np.ascontiguousarray(kept_atoms[:, :n_kept]),
        source=src,
        layout=layout,
        steps=steps,
        samples=samples,
        raw_columns=counts["raw"],
        zero_columns=counts["zero"],
        duplicate_columns=counts["duplicate"],
        saturated_columns=counts["saturated"],
        rejected_constant=counts["constant"],
        near_duplicate_columns=counts["near"],
        surplus_columns=counts["surplus"],
        leak=float(leak),
        blocks=len(nets),
        requested_atoms=requested,
    )
    return dictionary, witnesses
