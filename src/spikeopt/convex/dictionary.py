"""Spike dictionaries: the training set rolled through frozen witnesses, as atoms.

Column ``(k, j)`` of the raw dictionary is the spike output of last-layer neuron ``j`` of subnetwork
``k``. Three layouts:

- ``"final"``: one row per sample, the spikes at the last timestep (tasks read out at the end); uint8;
- ``"trajectory"``: one row per (timestep, sample), row ``t * N + i`` (per-step supervision with a
  shared readout, the paper's Appendix D.5); uint8;
- ``"integrate"``: one row per sample, the leaky spike count ``sum_t leak^(T-1-t) s_t`` divided by
  ``sum_t leak^(T-1-t)`` (in ``[0, 1]``; the mean firing rate for ``leak = 1``), what an
  ``integrate`` readout sees; float32 (float64 for float64 witnesses).

:func:`build_dictionary` (one witness network, the paper's CVX) removes all-zero and duplicate
columns; for each kept column it stores the witness ``(k, j)`` that generates it (the first one
met), which is all reconstruction needs. :func:`fill_dictionary` keeps drawing witness blocks until
a target number of informative atoms is reached (see there). Every dictionary reports how many raw
neurons were silent, saturated, duplicates and near-duplicates, and warns when too many are wasted.
"""

from __future__ import annotations

import sys
import time
import warnings
from dataclasses import dataclass, replace

import numpy as np
import torch

from spikeopt.convex.calibrate import leak_weights
from spikeopt.resources import available_bytes
from spikeopt.snn.network import ParallelLIFSNN

LAYOUTS = ("final", "trajectory", "integrate")
_CACHE_NEURONS = 2**18
WEAK_FRACTION = 0.2  # warn when more raw neurons than this are silent or saturated
_NEAR_ROWS = 2048  # rows used to detect near-duplicates (all rows when there are fewer)

#: the dictionary layout that a network readout reads
LAYOUT_OF_READOUT = {"final": "final", "per_step": "trajectory", "integrate": "integrate"}


@dataclass(frozen=True)
class SpikeDictionary:
    """Unique informative atoms ``[rows, p]`` and their witnesses ``source [p, 2]`` = (k, j).

    ``atoms`` is uint8 for the binary layouts and float for ``"integrate"``. The counts partition the
    raw neurons: ``raw = zero + rejected_constant + duplicate + near_duplicate + surplus + atoms``;
    ``saturated_columns`` counts the raw neurons that fire at every row (kept unless rejected).
    """

    atoms: np.ndarray
    source: np.ndarray
    layout: str
    steps: int
    samples: int
    raw_columns: int
    zero_columns: int
    duplicate_columns: int = 0
    saturated_columns: int = 0
    rejected_constant: int = 0
    near_duplicate_columns: int = 0
    surplus_columns: int = 0
    leak: float = 1.0
    blocks: int = 1
    requested_atoms: int | None = None  # what fill_dictionary was asked for (more than it kept when capped)

    @property
    def n_atoms(self) -> int:
        return self.atoms.shape[1]

    def summary(self) -> dict[str, int | float | str]:
        raw = max(self.raw_columns, 1)
        return {
            "layout": self.layout,
            "rows": int(self.atoms.shape[0]),
            "raw_columns": self.raw_columns,
            "zero_columns": self.zero_columns,
            "saturated_columns": self.saturated_columns,
            "rejected_constant": self.rejected_constant,
            "duplicate_columns": self.duplicate_columns,
            "near_duplicate_columns": self.near_duplicate_columns,
            "surplus_columns": self.surplus_columns,
            "atoms": self.n_atoms,
            "requested_atoms": self.requested_atoms,
            "blocks": self.blocks,
            "silent_fraction": self.zero_columns / raw,
            "saturated_fraction": self.saturated_columns / raw,
            "duplicate_fraction": self.duplicate_columns / raw,
            "near_duplicate_fraction": self.near_duplicate_columns / raw,
        }

    def warn_if_weak(self, threshold: float = WEAK_FRACTION) -> None:
        """One-line warning when more than ``threshold`` of the raw neurons are silent or saturated."""
        s = self.summary()
        for what, frac in (("silent", s["silent_fraction"]), ("saturated", s["saturated_fraction"])):
            if frac > threshold:  # type: ignore[operator]
                warnings.warn(
                    f"{frac:.0%} of the witness neurons are {what} on the training data (wasted atoms); "
                    "use calibrated witnesses (convex.witnesses=calibrated) or change witness_scale",
                    stacklevel=2,
                )


class _Progress:
    """One-line updates on stderr, only for builds that take more than ``delay`` seconds."""

    delay, interval = 1.0, 0.5

    def __init__(self, enabled: bool, what: str) -> None:
        self.enabled, self.what = enabled, what
        self.t0 = self.last = time.perf_counter()
        self.shown = False

    def update(self, text: str) -> None:
        now = time.perf_counter()
        if self.enabled and now - self.t0 >= self.delay and now - self.last >= self.interval:
            print(f"\r{self.what}: {text} [{now - self.t0:.0f} s]", end="", file=sys.stderr, flush=True)
            self.last, self.shown = now, True

    def close(self) -> None:
        if self.shown:
            print(file=sys.stderr, flush=True)


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable``), or a conservative 8 GiB where unknown."""
    return available_bytes(unknown=8 * 2**30)


def row_count(layout: str, steps: int, samples: int) -> int:
    """Rows of a ``layout`` dictionary over ``samples`` sequences of ``steps``: one per (step, sequence)
    for ``trajectory``, one per sequence otherwise."""
    return samples * (steps if layout == "trajectory" else 1)


def _itemsize(layout: str, net: ParallelLIFSNN) -> int:
    return net.weights[0].element_size() if layout == "integrate" else 1


def estimate_memory(net: ParallelLIFSNN, steps: int, samples: int, layout: str, chunk: int) -> int:
    """Bytes needed: the raw dictionary, its packed / keyed copy, and one chunk's float rollout."""
    cols = net.subnetworks * net.width
    rows = row_count(layout, steps, samples)
    raw = rows * cols * _itemsize(layout, net)
    packed = (rows + 7) // 8 * cols * 2 if layout != "integrate" else raw
    rollout = 4 * steps * chunk * cols * 4  # currents, membranes, spikes, stacked output
    return raw + packed + rollout


def _check_layout(layout: str, chunk_size: int, leak: float) -> None:
    if layout not in LAYOUTS:
        raise ValueError(f"unknown dictionary layout {layout!r}; valid: {', '.join(LAYOUTS)}")
    if isinstance(chunk_size, bool) or not isinstance(chunk_size, int) or chunk_size < 1:
        raise ValueError(f"chunk_size must be an integer >= 1, got {chunk_size!r}")
    if isinstance(leak, bool) or not isinstance(leak, (int, float)) or not 0.0 <= leak <= 1.0:
        raise ValueError(f"leak must be a number in [0, 1] (the integrate readout's decay), got {leak!r}")


def _column_keys(raw: np.ndarray) -> np.ndarray:
    """One byte string per column (bit-packed for binary columns), for exact de-duplication."""
    if raw.dtype == np.uint8:
        packed = np.ascontiguousarray(np.packbits(raw, axis=0).T)
    else:
        packed = np.ascontiguousarray(raw.T)
    return packed.view(np.dtype((np.void, packed.shape[1] * packed.itemsize))).reshape(-1)


def unique_columns(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the first occurrence of each distinct non-zero column, in column order; zero mask."""
    nonzero = raw.any(axis=0)
    _, first = np.unique(_column_keys(raw), return_index=True)
    first = np.sort(first)
    return first[nonzero[first]], ~nonzero


def _saturated(raw: np.ndarray) -> np.ndarray:
    """Columns that fire at every row (binary: all ones; integrate: at every step of every sample)."""
    return (raw >= 1).all(axis=0)


def roll(
    witnesses: ParallelLIFSNN, x: torch.Tensor, layout: str, leak: float = 1.0, chunk_size: int = 1024,
    device: torch.device | str | None = None, progress: _Progress | None = None,
) -> np.ndarray:
    """The raw dictionary ``[rows, K * m]`` of ``witnesses`` on ``x [T, N, F]``: every column, nothing removed."""
    steps, samples, _ = x.shape
    cols = witnesses.subnetworks * witnesses.width
    chunk = min(chunk_size, samples)
    device = torch.device(device) if device is not None else next(witnesses.parameters()).device
    witnesses = witnesses.to(device)
    dtype = witnesses.weights[0].dtype
    if layout == "integrate":
        raw = np.empty((samples, cols), dtype=torch.empty(0, dtype=dtype).numpy().dtype)
        weights = leak_weights(steps, leak, dtype).to(device)
    else:
        raw = np.empty((row_count(layout, steps, samples), cols), dtype=np.uint8)
    # roll in cache-sized blocks of samples (the LIF loop is memory-bound: per-step tensors that stay
    # in cache run ~10x faster); the subnetwork-major rollout holds one block of steps at a time
    block = chunk if device.type != "cpu" else max(1, min(chunk, _CACHE_NEURONS // cols))
    for begin in range(0, samples, block):
        end = min(begin + block, samples)
        xb = x[:, begin:end].to(device)
        if layout == "final":
            raw[begin:end] = witnesses.spike_readout(xb, "final").flatten(-2).to(torch.uint8).cpu().numpy()
        elif layout == "integrate":
            raw[begin:end] = witnesses.spike_readout(xb, "sum", weights).flatten(-2).cpu().numpy()
        else:
            spikes = witnesses.spike_readout(xb, "all").flatten(-2)  # [T, b, K*m]
            raw.reshape(steps, samples, cols)[:, begin:end] = spikes.to(torch.uint8).cpu().numpy()
        if progress is not None:
            progress.update(f"{end}/{samples} samples")
    return raw


def build_dictionary(
    witnesses: ParallelLIFSNN,
    x: torch.Tensor,
    layout: str = "final",
    chunk_size: int = 1024,
    max_memory: int | None = None,
    device: torch.device | str | None = None,
    leak: float = 1.0,
    progress: bool = False,
) -> SpikeDictionary:
    """Roll ``x [T, N, F]`` through the frozen ``witnesses`` in chunks of samples into a dictionary.

    The memory it needs is estimated first; if it exceeds ``max_memory`` (default: the memory
    available now) a ``MemoryError`` names the sizes and what to reduce. ``leak`` is the
    ``"integrate"`` layout's decay. ``progress`` prints one-line updates on stderr for long builds.
    """
    _check_layout(layout, chunk_size, leak)
    witnesses.check_input(x)
    steps, samples, _ = x.shape
    chunk = min(chunk_size, samples)
    need = estimate_memory(witnesses, steps, samples, layout, chunk)
    limit = available_memory() if max_memory is None else max_memory
    if need > limit:
        fixes = "reduce the training samples, subnetworks or width, "
        fixes += "use the 'final' layout, or lower chunk_size" if layout == "trajectory" else "or lower chunk_size"
        raise MemoryError(
            f"the {layout} spike dictionary needs about {need / 2**30:.2f} GiB "
            f"({samples} samples x {steps} steps x {witnesses.subnetworks} subnetworks x {witnesses.width} neurons) "
            f"but only {limit / 2**30:.2f} GiB is allowed; {fixes}"
        )
    # identical input sequences give identical spike trains: roll each distinct sequence once
    # (exact; e.g. first-last-XOR with T = 8 has at most 256 distinct sequences)
    flat = x.transpose(0, 1).reshape(samples, -1)
    uniq, inverse = torch.unique(flat, dim=0, return_inverse=True)
    if uniq.shape[0] <= 0.8 * samples:
        small = build_dictionary(
            witnesses, uniq.reshape(uniq.shape[0], steps, -1).transpose(0, 1).contiguous(),
            layout, chunk_size, max_memory, device, leak, progress,
        )
        return _expand_rows(small, inverse.cpu().numpy(), steps, samples)
    bar = _Progress(progress, "spike dictionary")
    raw = roll(witnesses, x, layout, leak, chunk_size, device, bar)
    bar.close()
    keep, zero = unique_columns(raw)
    k, j = np.divmod(keep, witnesses.width)
    cols = raw.shape[1]
    return SpikeDictionary(
        atoms=np.ascontiguousarray(raw[:, keep]),
        source=np.stack([k, j], axis=1).astype(np.int64),
        layout=layout,
        steps=steps,
        samples=samples,
        raw_columns=cols,
        zero_columns=int(zero.sum()),
        duplicate_columns=cols - int(zero.sum()) - len(keep),
        saturated_columns=int(_saturated(raw).sum()),
        leak=float(leak),
    )


def dictionary_rows(dictionary: SpikeDictionary, witnesses: ParallelLIFSNN, x: torch.Tensor, chunk_size: int = 1024,
                    device: torch.device | str | None = None) -> np.ndarray:
    """The rows ``dictionary``'s atoms take on new inputs ``x [T, N, F]``: same columns, layout and leak.

    Why: a readout is refit (or scored) on sequences the dictionary was not built from, e.g. the
    validation split; ``witnesses`` must be the network ``dictionary.source`` indexes.
    """
    witnesses.check_input(x)
    cols = dictionary.source[:, 0] * witnesses.width + dictionary.source[:, 1]
    if len(cols) and cols.max() >= witnesses.subnetworks * witnesses.width:
        raise ValueError(f"the dictionary's atoms come from {int(dictionary.source[:, 0].max()) + 1} subnetworks but "
                         f"the witnesses have {witnesses.subnetworks}; pass the witnesses the dictionary was built with")
    raw = roll(witnesses, x, dictionary.layout, dictionary.leak, chunk_size, device)
    return np.ascontiguousarray(raw[:, cols])


def _expand_rows(small: SpikeDictionary, inverse: np.ndarray, steps: int, samples: int) -> SpikeDictionary:
    """The dictionary of the full sample set from that of its distinct sequences (``inverse`` maps back).

    Column de-duplication commutes with repeating rows: two columns are equal on the repeated rows
    iff they are equal on the distinct ones (every distinct sequence occurs at least once).
    """
    atoms = small.atoms
    if small.layout == "trajectory":
        u = atoms.shape[0] // steps
        idx = (np.arange(steps)[:, None] * u + inverse[None, :]).reshape(-1)
        atoms = atoms[idx]
    else:
        atoms = atoms[inverse]
    return replace(small, atoms=np.ascontiguousarray(atoms), steps=steps, samples=samples)


def stack_targets(y: torch.Tensor, layout: str) -> np.ndarray:
    """Targets in the dictionary's row order: ``[N, H]`` as is, ``[T, N, H]`` -> ``[T*N, H]``."""
    if layout == "trajectory":
        if y.dim() != 3:
            raise ValueError(f"the trajectory layout needs per-step targets [T, N, H], got {tuple(y.shape)}")
        return y.reshape(-1, y.shape[-1]).cpu().numpy()
    if y.dim() != 2:
        raise ValueError(f"the final layout needs targets [N, H], got {tuple(y.shape)}")
    return y.cpu().numpy()


def stack_row_weights(time_weights: torch.Tensor | None, steps: int, samples: int) -> np.ndarray | None:
    """Per-row weights of the trajectory layout: ``w_t`` repeated over the samples of step ``t``."""
    if time_weights is None:
        return None
    return np.repeat(time_weights.double().cpu().numpy(), samples)
