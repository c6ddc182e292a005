"""Spike dictionaries: the training set rolled through frozen witnesses, as binary atoms.

Column ``(k, j)`` of the raw dictionary is the spike output of last-layer neuron ``j`` of subnetwork
``k``. Two layouts:

- ``"final"``: one row per sample, the spikes at the last timestep (tasks read out at the end);
- ``"trajectory"``: one row per (timestep, sample), row ``t * N + i`` (per-step supervision with a
  shared readout, the paper's Appendix D.5).

Duplicate columns and all-zero columns are removed; for each kept column the dictionary stores the
witness ``(k, j)`` that generates it (the first one met), which is all reconstruction needs.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from spikeopt.snn.network import ParallelLIFSNN

LAYOUTS = ("final", "trajectory")
_CACHE_NEURONS = 2**18


@dataclass(frozen=True)
class SpikeDictionary:
    """Unique non-zero binary atoms ``[rows, p]`` (uint8) and their witnesses ``source [p, 2]`` = (k, j)."""

    atoms: np.ndarray
    source: np.ndarray
    layout: str
    steps: int
    samples: int
    raw_columns: int
    zero_columns: int

    @property
    def n_atoms(self) -> int:
        return self.atoms.shape[1]

    @property
    def duplicate_columns(self) -> int:
        return self.raw_columns - self.zero_columns - self.n_atoms

    def summary(self) -> dict[str, int | str]:
        return {
            "layout": self.layout,
            "rows": int(self.atoms.shape[0]),
            "raw_columns": self.raw_columns,
            "zero_columns": self.zero_columns,
            "duplicate_columns": self.duplicate_columns,
            "atoms": self.n_atoms,
        }


def available_memory() -> int:
    """Bytes of memory available now (``MemAvailable``), or a generous guess where unknown."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 8 * 2**30


def estimate_memory(net: ParallelLIFSNN, steps: int, samples: int, layout: str, chunk: int) -> int:
    """Bytes needed: the raw uint8 dictionary, its bit-packed copy, and one chunk's float32 rollout."""
    cols = net.subnetworks * net.width
    rows = samples * (steps if layout == "trajectory" else 1)
    raw = rows * cols
    packed = (rows + 7) // 8 * cols * 2
    rollout = 4 * steps * chunk * cols * 4  # currents, membranes, spikes, stacked output
    return raw + packed + rollout


def unique_columns(raw: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Indices of the first occurrence of each distinct non-zero column, in column order; zero mask."""
    nonzero = raw.any(axis=0)
    packed = np.packbits(raw, axis=0).T  # [cols, bytes]: one byte string per column
    _, first = np.unique(packed, axis=0, return_index=True)
    first = np.sort(first)
    return first[nonzero[first]], ~nonzero


def build_dictionary(
    witnesses: ParallelLIFSNN,
    x: torch.Tensor,
    layout: str = "final",
    chunk_size: int = 1024,
    max_memory: int | None = None,
    device: torch.device | str | None = None,
) -> SpikeDictionary:
    """Roll ``x [T, N, F]`` through the frozen ``witnesses`` in chunks of samples into a dictionary.

    The memory it needs is estimated first; if it exceeds ``max_memory`` (default: the memory
    available now) a ``MemoryError`` names the sizes and what to reduce.
    """
    if layout not in LAYOUTS:
        raise ValueError(f"unknown dictionary layout {layout!r}; valid: {', '.join(LAYOUTS)}")
    if chunk_size < 1:
        raise ValueError(f"chunk_size must be >= 1, got {chunk_size}")
    witnesses.check_input(x)
    steps, samples, _ = x.shape
    chunk = min(chunk_size, samples)
    need = estimate_memory(witnesses, steps, samples, layout, chunk)
    limit = available_memory() if max_memory is None else max_memory
    if need > limit:
        raise MemoryError(
            f"the {layout} spike dictionary needs about {need / 2**30:.2f} GiB "
            f"({samples} samples x {steps} steps x {witnesses.subnetworks} subnetworks x {witnesses.width} neurons) "
            f"but only {limit / 2**30:.2f} GiB is allowed; reduce the training samples, subnetworks or width, "
            "use the 'final' layout, or lower chunk_size"
        )
    cols = witnesses.subnetworks * witnesses.width
    # identical input sequences give identical spike trains: roll each distinct sequence once
    # (exact; e.g. first-last-XOR with T = 8 has at most 256 distinct sequences)
    flat = x.transpose(0, 1).reshape(samples, -1)
    uniq, inverse = torch.unique(flat, dim=0, return_inverse=True)
    if uniq.shape[0] <= 0.8 * samples:
        small = build_dictionary(
            witnesses, uniq.reshape(uniq.shape[0], steps, -1).transpose(0, 1).contiguous(),
            layout, chunk_size, max_memory, device,
        )
        return _expand_rows(small, inverse.cpu().numpy(), steps, samples)
    rows_per_step = samples if layout == "trajectory" else 0
    raw = np.empty((steps * rows_per_step if layout == "trajectory" else samples, cols), dtype=np.uint8)
    device = torch.device(device) if device is not None else next(witnesses.parameters()).device
    witnesses = witnesses.to(device)
    # roll in cache-sized blocks (the LIF loop is memory-bound: ~0.25M neurons per block keeps
    # every per-step tensor in cache on a CPU, ~10x faster than one large block)
    block = chunk if device.type != "cpu" else max(1, min(chunk, _CACHE_NEURONS // cols))
    for begin in range(0, samples, block):
        end = min(begin + block, samples)
        spikes = witnesses.hidden_spikes(x[:, begin:end].to(device))  # [T, b, K, m]
        if layout == "final":
            spikes = spikes[-1:]
        spikes = spikes.flatten(-2).to(torch.uint8).cpu().numpy()
        if layout == "final":
            raw[begin:end] = spikes[0]
        else:
            raw.reshape(steps, samples, cols)[:, begin:end] = spikes
    keep, zero = unique_columns(raw)
    k, j = np.divmod(keep, witnesses.width)
    return SpikeDictionary(
        atoms=np.ascontiguousarray(raw[:, keep]),
        source=np.stack([k, j], axis=1).astype(np.int64),
        layout=layout,
        steps=steps,
        samples=samples,
        raw_columns=cols,
        zero_columns=int(zero.sum()),
    )


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
    return SpikeDictionary(
        atoms=np.ascontiguousarray(atoms), source=small.source, layout=small.layout, steps=steps,
        samples=samples, raw_columns=small.raw_columns, zero_columns=small.zero_columns,
    )


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

