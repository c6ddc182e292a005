"""Per-epoch / per-iteration metrics of a result as CSV files beside its JSON (and TensorBoard).

A result JSON holds every curve, but people open CSVs in a spreadsheet and pandas: for ``r.json``
we write ``r.<stage>.csv`` per training stage (``sg``, ``finetune``, ``sast``: one row per
evaluation), ``r.admm.csv`` (one row per ADMM iteration) and ``r.path.csv`` (one row per ``reg``
of the convex path). Nested values are flattened (``val: {accuracy}`` -> ``val_accuracy``,
per-layer lists -> ``z_residual_0``, ``z_residual_1``...).
"""

from __future__ import annotations

import csv
import os
import tempfile
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any


def _flatten(record: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}_"))
        elif isinstance(value, (list, tuple)):
            for i, v in enumerate(value):
                out[f"{name}_{i}"] = v
        else:
            out[name] = value
    return out


def metric_tables(result: Mapping[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """``{table name: rows}`` of every curve in ``result`` (see the module docstring)."""
    tables: dict[str, list[dict[str, Any]]] = {}
    for stage, hist in (result.get("history") or {}).items():
        if isinstance(hist, Mapping) and hist.get("records"):
            tables[stage] = [_flatten(r) for r in hist["records"]]
    admm = result.get("admm")
    if isinstance(admm, Mapping) and admm.get("iteration"):
        n = len(admm["iteration"])
        series = {k: v for k, v in admm.items() if isinstance(v, list) and len(v) == n}
        tables["admm"] = [_flatten({k: v[i] for k, v in series.items()}) for i in range(n)]
    if result.get("path"):
        tables["path"] = [_flatten(p) for p in result["path"]]
    return tables


def _write_csv(rows: list[dict[str, Any]], path: Path) -> Path:
    columns: list[str] = []
    for row in rows:
        columns += [c for c in row if c not in columns]
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            writer = csv.DictWriter(fh, fieldnames=columns, restval="")
            writer.writeheader()
            writer.writerows({k: ("" if v is None else v) for k, v in row.items()} for row in rows)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def write_metric_csvs(result: Mapping[str, Any], json_path: str | Path) -> list[Path]:
    """Write ``<json stem>.<table>.csv`` beside ``json_path`` for every table; returns the paths."""
    json_path = Path(json_path)
    json_path.parent.mkdir(parents=True, exist_ok=True)
    stem = json_path.name[: -len(json_path.suffix)] if json_path.suffix else json_path.name
    return [_write_csv(rows, json_path.with_name(f"{stem}.{name}.csv")) for name, rows in metric_tables(result).items()]


def check_tensorboard() -> None:
    """Raise a clear error now (before training) when TensorBoard logging was asked for but is missing."""
    try:
        from torch.utils.tensorboard import SummaryWriter  # noqa: F401
    except ImportError as err:
        raise ValueError("--tensorboard needs the tensorboard package: pip install tensorboard "
                         "(the CSV files beside --out hold the same curves)") from err


def write_tensorboard(result: Mapping[str, Any], logdir: str | Path) -> Path:
    """The same tables as TensorBoard scalars (``<table>/<column>``, step = row index)."""
    check_tensorboard()
    from torch.utils.tensorboard import SummaryWriter

    writer = SummaryWriter(log_dir=str(logdir))
    try:
        for name, rows in metric_tables(result).items():
            for step, row in enumerate(rows):
                for key, value in _numbers(row):
                    writer.add_scalar(f"{name}/{key}", value, step)
    finally:
        writer.close()
    return Path(logdir)


def _numbers(row: Mapping[str, Any]) -> Iterable[tuple[str, float]]:
    for key, value in row.items():
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            yield key, float(value)
