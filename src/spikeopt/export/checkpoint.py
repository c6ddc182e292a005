"""Checkpoints: one file holding a network's weights, buffers and full configuration.

Loading never unpickles arbitrary objects (``weights_only=True``) and turns every way a file can
be wrong (empty, truncated, not a checkpoint, another format version, weights that do not match
the saved configuration) into a ``ValueError`` that names the file and what differs.
"""

from __future__ import annotations

import pickle
import zipfile
from pathlib import Path
from typing import Any

import torch

from spikeopt import __version__
from spikeopt.atomic import atomic_write
from spikeopt.snn.network import ParallelLIFSNN

FORMAT = "spikeopt.ParallelLIFSNN/1"


def _version() -> str:
    return __version__


def save_model(model: ParallelLIFSNN, path: str | Path, extra: dict[str, Any] | None = None) -> Path:
    """Write ``model`` (and optional JSON-able ``extra``, e.g. the run config) atomically to ``path``."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {
        "format": FORMAT,
        "spikeopt_version": _version(),
        "config": model.config(),
        "spike_mode": model.spike_mode,
        "state_dict": {k: v.detach().cpu() for k, v in model.state_dict().items()},
        "extra": extra or {},
    }
    with atomic_write(path) as fh:
        torch.save(payload, fh)
    return path


def _read_payload(path: Path, map_location: str | torch.device) -> Any:
    size = path.stat().st_size
    if size == 0:
        raise ValueError(f"not a spikeopt checkpoint: {path} is empty (0 bytes)")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except (RuntimeError, EOFError, pickle.UnpicklingError, zipfile.BadZipFile, ValueError, KeyError,
            AttributeError, IndexError, TypeError, UnicodeDecodeError, OSError) as err:
        # never repeat torch's advice to retry with weights_only=False: unsafe for a file of unknown origin
        kind = "truncated or damaged spikeopt checkpoint" if zipfile.is_zipfile(path) or _looks_truncated(err) \
            else "not a spikeopt checkpoint"
        raise ValueError(f"{kind}: {path} ({size} bytes that torch cannot read: {type(err).__name__})") from None


def _looks_truncated(err: BaseException) -> bool:
    text = str(err).lower()
    return any(w in text for w in ("central directory", "truncat", "eof", "failed finding"))


def _describe_mismatch(state: dict[str, torch.Tensor], model: ParallelLIFSNN) -> str:
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    have = {k: tuple(v.shape) for k, v in state.items()}
    parts = []
    if missing := sorted(set(want) - set(have)):
        parts.append(f"missing tensors {missing}")
    if extra := sorted(set(have) - set(want)):
        parts.append(f"unexpected tensors {extra}")
    shapes = [f"{k} {have[k]} (config says {want[k]})" for k in sorted(set(want) & set(have)) if want[k] != have[k]]
    if shapes:
        parts.append("shapes " + ", ".join(shapes))
    return "; ".join(parts)


def load_model(
    path: str | Path, map_location: str | torch.device = "cpu", expect: dict[str, Any] | None = None,
) -> tuple[ParallelLIFSNN, dict[str, Any]]:
    """The network saved at ``path`` and its ``extra`` dict.

    ``expect`` (e.g. ``{"width": 32, "readout": "final"}``) lists configuration values the caller
    relies on; a checkpoint that differs raises and names each field with both values.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}" + (" (it is a folder)" if path.is_dir() else ""))
    payload = _read_payload(path, map_location)
    if not isinstance(payload, dict) or "format" not in payload:
        raise ValueError(f"{path} is not a spikeopt model file (expected format {FORMAT})")
    written_by = payload.get("spikeopt_version", "unknown")
    if payload["format"] != FORMAT:
        raise ValueError(f"{path} is a {payload['format']!r} checkpoint written by spikeopt {written_by}; this "
                         f"spikeopt {_version()} reads {FORMAT!r}: load it with the version that wrote it")
    config, state = payload.get("config"), payload.get("state_dict")
    if not isinstance(config, dict) or not isinstance(state, dict) or "weights.0" not in state:
        raise ValueError(f"{path}: damaged spikeopt checkpoint (no config or no weights)")
    known = set(ParallelLIFSNN.__init__.__code__.co_varnames)
    if unknown := sorted(set(config) - known):
        raise ValueError(f"{path} (spikeopt {written_by}) has config fields {unknown} that this spikeopt "
                         f"{_version()} does not know")
    try:
        model = ParallelLIFSNN(**config)  # beta and threshold come with the state dict below
    except (KeyError, TypeError, ValueError) as err:
        raise ValueError(f"{path}: its saved configuration is not valid here ({err})") from None
    if expect:
        actual = model.config()
        diff = [f"{k}: checkpoint {actual.get(k)!r}, expected {v!r}" for k, v in expect.items() if actual.get(k) != v]
        if diff:
            raise ValueError(f"{path} holds a different model: " + "; ".join(diff))
    model = model.to(dtype=state["weights.0"].dtype)
    mismatch = _describe_mismatch(state, model)
    if mismatch:
        raise ValueError(f"{path} (spikeopt {written_by}): weights do not match the saved configuration: {mismatch}")
    model.load_state_dict(state)
    model.spike_mode = payload.get("spike_mode", "hard")
    return model.eval(), payload.get("extra", {})
