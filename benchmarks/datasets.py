"""Development data for the benchmarks: the UCR/UEA sets that ship inside sktime (the `bench` extra).

The library itself never depends on sktime; benchmarks point the ``ucr`` task at sktime's data
folder so real sequence data runs offline.

    python benchmarks/datasets.py        # which bundled sets load, with their shapes
"""

from __future__ import annotations

import os
import sys
import time

# name -> extra ucr options needed to load it (unequal-length sets are resampled to the longest TRAIN length)
UCR_SETS: dict[str, dict] = {
    "GunPoint": {},
    "ItalyPowerDemand": {},
    "ArrowHead": {},
    "OSULeaf": {},
    "ACSF1": {},
    "BasicMotions": {},
    "JapaneseVowels": {"unequal_length": "resample"},
    "PLAID": {"unequal_length": "resample"},
}


def sktime_data_dir() -> str:
    """The folder of sktime's bundled data sets (``<name>/<name>_TRAIN.ts``); needs sktime installed."""
    try:
        import sktime.datasets
    except ImportError as err:
        raise ImportError("the UCR benchmarks read sktime's bundled data: pip install -e '.[bench]'") from err
    return os.path.join(os.path.dirname(sktime.datasets.__file__), "data")


def ucr_options(name: str) -> dict:
    """Options of the ``ucr`` task for bundled set ``name``."""
    return {"data_dir": sktime_data_dir(), "dataset": name, **UCR_SETS[name]}


def main() -> int:
    from spikeopt.tasks import make_task

    print(f"sktime data: {sktime_data_dir()}")
    for name, extra in UCR_SETS.items():
        t0 = time.perf_counter()
        for attempt in [{}] + ([extra] if extra else []):
            try:
                task = make_task("ucr", data_dir=sktime_data_dir(), dataset=name, **attempt)
                splits = task.splits(0)
            except ValueError as err:
                print(f"{name:18} default options do not load it: {str(err).split(': ', 1)[-1][:110]}")
                continue
            shapes = "  ".join(f"{k} {tuple(v.x.shape)}" for k, v in splits.items())
            print(f"{name:18} {attempt or 'default options'}: {len(task.classes)} classes, [T, N, F] {shapes}  "
                  f"({time.perf_counter() - t0:.2f}s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
