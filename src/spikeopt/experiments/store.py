"""A store that loses nothing: one SQLite row per finished run, keyed by the hash of its config.

Every write is one transaction in WAL mode, so a crash leaves either the whole row or none of it,
and readers never block the writer. Only the sweep driver writes (workers return results to it),
so there is one writer per database. A restarted sweep asks :meth:`Store.finished` which keys to
skip; failed runs are stored too (status ``failed`` with the error) and retried only on request.
"""

from __future__ import annotations

import csv
import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

STATUSES = ("ok", "failed")
_JSON_COLUMNS = ("config", "metrics", "certificate", "timings", "extra")
_COLUMNS = ("key", "sweep", "status", "error", "seconds", "finished_at", *_JSON_COLUMNS)

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    key TEXT PRIMARY KEY,
    sweep TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('ok', 'failed')),
    error TEXT,
    seconds REAL,
    finished_at REAL NOT NULL,
    config TEXT NOT NULL,
    metrics TEXT,
    certificate TEXT,
    timings TEXT,
    extra TEXT
);
CREATE INDEX IF NOT EXISTS runs_sweep ON runs (sweep);
"""


@dataclass
class RunRecord:
    """One stored run; ``config`` is the full RunConfig dict, ``metrics`` is ``{split: {metric: value}}``."""

    key: str
    sweep: str
    status: str
    config: dict[str, Any]
    metrics: dict[str, dict[str, float]] = field(default_factory=dict)
    certificate: dict[str, Any] | None = None
    timings: dict[str, float] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)
    error: str | None = None
    seconds: float | None = None
    finished_at: float = 0.0

    def __post_init__(self) -> None:
        if self.status not in STATUSES:
            raise ValueError(f"run status must be one of {STATUSES}, got {self.status!r}")
        if not self.key:
            raise ValueError("a run record needs a non-empty key (the config hash)")

    def metric(self, path: str) -> float | None:
        """``'test.accuracy'`` -> the value, or None when the run has no such split/metric."""
        split, _, name = path.partition(".")
        value = self.metrics.get(split, {}).get(name)
        return None if value is None else float(value)

    def as_dict(self) -> dict[str, Any]:
        return {c: getattr(self, c) for c in _COLUMNS}


def _dumps(value: Any) -> str | None:
    return None if value is None else json.dumps(value, sort_keys=True, default=_plain)


def _plain(value: Any) -> Any:
    if hasattr(value, "item"):
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (tuple, set, Path)):
        return str(value) if isinstance(value, Path) else list(value)
    raise TypeError(f"cannot store {type(value).__name__} as JSON")


SQLITE_MAGIC = b"SQLite format 3\x00"


class Store:
    """The run database at ``path`` (created with its folder when missing, unless ``read_only``)."""

    def __init__(self, path: str | Path, read_only: bool = False) -> None:
        self.path = Path(path)
        if self.path.is_dir():
            raise ValueError(f"store path {self.path} is a folder; give a file such as {self.path / 'runs.sqlite'}")
        exists = self.path.is_file() and self.path.stat().st_size > 0
        if exists:
            with self.path.open("rb") as fh:
                if fh.read(len(SQLITE_MAGIC)) != SQLITE_MAGIC:
                    raise ValueError(f"{self.path} is not a spikeopt run database (not an SQLite file); "
                                     "give the runs.sqlite that `spikeopt reproduce` wrote")
        elif read_only:
            raise FileNotFoundError(f"run database {self.path} does not exist or is empty")
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._db = sqlite3.connect(self.path, timeout=60.0, isolation_level=None)
            if read_only:
                tables = {n for (n,) in self._db.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
                if "runs" not in tables:
                    raise ValueError(f"{self.path} is an SQLite file without a runs table: not a spikeopt run database")
            else:
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute("PRAGMA synchronous=NORMAL")
                self._db.executescript(_SCHEMA)
        except sqlite3.DatabaseError as err:
            raise ValueError(f"{self.path} is not a usable spikeopt run database ({err})") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def put(self, record: RunRecord) -> None:
        """Insert or replace ``record`` in one transaction (atomic: all of it or nothing)."""
        row = record.as_dict()
        row["finished_at"] = row["finished_at"] or time.time()
        values = [_dumps(row[c]) if c in _JSON_COLUMNS else row[c] for c in _COLUMNS]
        with self._transaction():
            self._db.execute(
                f"INSERT OR REPLACE INTO runs ({', '.join(_COLUMNS)}) VALUES ({', '.join('?' * len(_COLUMNS))})",
                values,
            )

    def _transaction(self) -> _Transaction:
        return _Transaction(self._db)

    def finished(self, include_failed: bool = True) -> set[str]:
        """Keys a restarted sweep should skip: every stored run, or only the ok ones."""
        query = "SELECT key FROM runs" + ("" if include_failed else " WHERE status = 'ok'")
        return {k for (k,) in self._db.execute(query)}

    def get(self, key: str) -> RunRecord | None:
        rows = list(self.records(keys=[key]))
        return rows[0] if rows else None

    def records(
        self, sweep: str | None = None, status: str | None = None, keys: list[str] | None = None
    ) -> Iterator[RunRecord]:
        """Stored runs, oldest first, filtered by sweep name (``*`` wildcards allowed), status or keys."""
        if status is not None and status not in STATUSES:
            raise ValueError(f"status filter must be one of {STATUSES}, got {status!r}")
        where, args = [], []
        if sweep is not None:
            where.append("sweep GLOB ?")
            args.append(sweep)
        if status is not None:
            where.append("status = ?")
            args.append(status)
        if keys is not None:
            where.append(f"key IN ({', '.join('?' * len(keys))})")
            args += keys
        sql = f"SELECT {', '.join(_COLUMNS)} FROM runs" + (f" WHERE {' AND '.join(where)}" if where else "")
        for row in self._db.execute(sql + " ORDER BY finished_at, key", args):
            data = dict(zip(_COLUMNS, row))
            for c in _JSON_COLUMNS:
                data[c] = json.loads(data[c]) if data[c] is not None else None
            data["metrics"] = data["metrics"] or {}
            data["timings"] = data["timings"] or {}
            data["extra"] = data["extra"] or {}
            yield RunRecord(**data)

    def sweeps(self) -> dict[str, dict[str, int]]:
        """``{sweep: {status: count}}`` for a quick overview."""
        out: dict[str, dict[str, int]] = {}
        for sweep, status, n in self._db.execute("SELECT sweep, status, COUNT(*) FROM runs GROUP BY sweep, status"):
            out.setdefault(sweep, {})[status] = n
        return out


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT``, rolled back on any error."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._db.execute("ROLLBACK" if exc_type else "COMMIT")


# ---------------------------------------------------------------- export / import


def export_records(records: list[RunRecord], path: str | Path, fmt: str | None = None) -> Path:
    """Write records as JSON (a list of rows) or CSV (JSON-encoded nested columns plus flat metric
    columns ``metrics.<split>.<metric>`` for spreadsheets); the format comes from the suffix.
    Written to a temporary file and renamed, so an interrupted export leaves no half file."""
    path = Path(path)
    fmt = _format(path, fmt)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", newline="") as fh:
            _write_records(records, fh, fmt)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return path


def _write_records(records: list[RunRecord], fh: Any, fmt: str) -> None:
    if fmt == "json":
        fh.write(json.dumps([r.as_dict() for r in records], indent=2, sort_keys=True, default=_plain))
        return
    flat = sorted({f"metrics.{s}.{m}" for r in records for s, ms in r.metrics.items() for m in ms})
    writer = csv.DictWriter(fh, fieldnames=[*_COLUMNS, *flat])
    writer.writeheader()
    for r in records:
        row = {c: (_dumps(v) if c in _JSON_COLUMNS else v) for c, v in r.as_dict().items()}
        row.update({f"metrics.{s}.{m}": v for s, ms in r.metrics.items() for m, v in ms.items()})
        writer.writerow(row)


def load_records(path: str | Path, fmt: str | None = None) -> list[RunRecord]:
    """Read back what :func:`export_records` wrote (the flat CSV columns are ignored)."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"export file {path} does not exist")
    fmt = _format(path, fmt)
    if fmt == "json":
        return [RunRecord(**row) for row in json.loads(path.read_text())]
    out = []
    with path.open(newline="") as fh:
        for row in csv.DictReader(fh):
            data: dict[str, Any] = {c: row[c] for c in _COLUMNS}
            for c in _JSON_COLUMNS:
                data[c] = json.loads(data[c]) if data[c] else None
            data["metrics"], data["timings"], data["extra"] = (data[c] or {} for c in ("metrics", "timings", "extra"))
            data["error"] = data["error"] or None
            data["seconds"] = float(data["seconds"]) if data["seconds"] else None
            data["finished_at"] = float(data["finished_at"])
            out.append(RunRecord(**data))
    return out


def _format(path: Path, fmt: str | None) -> str:
    fmt = (fmt or path.suffix.lstrip(".")).lower()
    if fmt not in ("csv", "json"):
        raise ValueError(f"export format must be csv or json (from --format or the file suffix), got {fmt!r}")
    return fmt
