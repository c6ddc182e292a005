"""Readers for the UCR / UEA time-series archive files: sktime's ``.ts`` and the UCR 2018 ``.tsv``.

Both readers return the series exactly as stored (float64, one ``[F, L]`` array per sample, ``NaN``
where a value is missing) with their string labels and the line each sample came from, so the task
above can refuse or repair unequal lengths and missing values with an error that names the line.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np


@dataclass
class RawSeries:
    """One archive file: ``series[i]`` is ``[F, L_i]`` float64, ``labels[i]`` its class as a string.

    ``classes`` is the file's declared class order (``@classLabel true ...`` of a ``.ts`` header),
    ``None`` when the file declares none (``.tsv``). ``lines[i]`` is the 1-based line of sample ``i``.
    """

    path: Path
    series: list[np.ndarray]
    labels: list[str]
    lines: list[int]
    classes: list[str] | None


def _values(items: list[str], path: Path, line: int) -> np.ndarray:
    """Numbers as text; ``?``, empty and ``NaN`` become NaN (missing)."""
    items = [v.strip() for v in items]
    try:
        return np.array([np.nan if v in ("?", "") else float(v) for v in items], dtype=np.float64)
    except ValueError as err:
        raise ValueError(f"{path}:{line}: cannot read a number ({err}); values must be floats or '?'") from None


def read_ts(path: str | os.PathLike) -> RawSeries:
    """A ``.ts`` file (sktime / UEA): ``@`` header lines, then ``@data`` and one sample per line,
    dimensions separated by ``:``, values by ``,``, the class label last.

    Refused with an error: ``@timeStamps true`` (``(t, v)`` pairs), files without class labels
    (``@classLabel false``, regression targets), and lines whose dimension count differs.
    """
    path = Path(path)
    classes: list[str] | None = None
    has_labels = True
    dims_declared: int | None = None
    series: list[np.ndarray] = []
    labels: list[str] = []
    lines: list[int] = []
    in_data = False
    with open(path, encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            text = raw.strip()
            if not text or text.startswith("#"):
                continue
            if not in_data:
                if not text.startswith("@"):
                    raise ValueError(f"{path}:{number}: expected a header line starting with '@' before @data")
                key, _, rest = text[1:].partition(" ")
                key, words = key.lower(), rest.split()
                if key == "data":
                    in_data = True
                elif key == "timestamps" and words and words[0].lower() == "true":
                    raise ValueError(f"{path}: files with @timeStamps true are not supported; export equally spaced values")
                elif key == "classlabel":
                    if not words or words[0].lower() != "true":
                        raise ValueError(f"{path}: @classLabel false -- the file has no class labels; "
                                         "ucr reads classification files only")
                    classes = words[1:] or None
                elif key == "targetlabel" and words and words[0].lower() == "true":
                    has_labels = False
                elif key == "dimensions" and words:
                    dims_declared = int(words[0])
                continue
            if not has_labels:
                raise ValueError(f"{path}: @targetLabel true marks a regression file; ucr reads classification files only")
            parts = text.split(":")
            if len(parts) < 2:
                raise ValueError(f"{path}:{number}: expected '<values>:...:<label>', found no ':' before a label")
            dims = [_values(p.split(","), path, number) for p in parts[:-1]]
            lengths = {d.size for d in dims}
            if len(lengths) != 1:
                raise ValueError(f"{path}:{number}: the dimensions of one sample have different lengths "
                                 f"{sorted(lengths)}; each dimension must have the same number of values")
            if series and len(dims) != series[0].shape[0]:
                raise ValueError(f"{path}:{number}: {len(dims)} dimensions, but line {lines[0]} has {series[0].shape[0]}")
            series.append(np.stack(dims))
            labels.append(parts[-1].strip())
            lines.append(number)
    if not in_data:
        raise ValueError(f"{path}: no @data line; is this a .ts file?")
    if not series:
        raise ValueError(f"{path}: no samples after @data")
    if dims_declared is not None and dims_declared != series[0].shape[0]:
        raise ValueError(f"{path}: @dimensions says {dims_declared} but the samples have {series[0].shape[0]}")
    return RawSeries(path, series, labels, lines, classes)


def read_tsv(path: str | os.PathLike) -> RawSeries:
    """A UCR 2018 ``.tsv`` file: one univariate sample per line, the label first, then the values
    separated by tabs. The archive pads shorter series with trailing ``NaN``; those are cut off
    here (a missing value inside a series stays NaN)."""
    path = Path(path)
    series: list[np.ndarray] = []
    labels: list[str] = []
    lines: list[int] = []
    with open(path, encoding="utf-8") as fh:
        for number, raw in enumerate(fh, start=1):
            text = raw.strip()
            if not text:
                continue
            fields = text.split("\t") if "\t" in text else text.split(",")
            if len(fields) < 2:
                raise ValueError(f"{path}:{number}: expected '<label><TAB><values...>'")
            values = _values(fields[1:], path, number)
            finite = np.flatnonzero(~np.isnan(values))
            values = values[: finite[-1] + 1] if finite.size else values[:0]
            if values.size == 0:
                raise ValueError(f"{path}:{number}: the series has no values")
            label = fields[0].strip()
            try:  # UCR writes labels as numbers, sometimes "1.0000000e+00": keep the plain spelling
                number_label = float(label)
                if number_label.is_integer():
                    label = str(int(number_label))
            except ValueError:
                pass
            series.append(values[None, :])
            labels.append(label)
            lines.append(number)
    if not series:
        raise ValueError(f"{path}: the file holds no samples")
    return RawSeries(path, series, labels, lines, None)


def find_ucr_files(data_dir: str | os.PathLike, dataset: str) -> tuple[Path, Path]:
    """``NAME_TRAIN`` and ``NAME_TEST`` in ``data_dir`` or ``data_dir/NAME``, as a ``.ts`` pair or
    else a ``.tsv`` pair (``.ts`` wins where both are present)."""
    root = Path(data_dir).expanduser()
    if not root.is_dir():
        raise FileNotFoundError(f"data_dir {str(root)!r} is not a folder; it should hold {dataset}_TRAIN.ts/.tsv "
                                f"and {dataset}_TEST.ts/.tsv, directly or in a subfolder {dataset}/")
    looked = []
    for folder in (root, root / dataset):
        for ext in (".ts", ".tsv"):
            train, test = folder / f"{dataset}_TRAIN{ext}", folder / f"{dataset}_TEST{ext}"
            looked.append(str(folder / f"{dataset}_{{TRAIN,TEST}}{ext}"))
            if train.is_file() and test.is_file():
                return train, test
    raise FileNotFoundError(f"no UCR files for dataset {dataset!r}: looked for {', '.join(looked)}; "
                            "check --data-dir and --dataset (the name is case-sensitive)")


def read_ucr(path: Path) -> RawSeries:
    """Read ``path`` with the reader its extension names."""
    return read_ts(path) if path.suffix == ".ts" else read_tsv(path)
