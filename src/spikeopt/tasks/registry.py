"""Task names -> classes, imported lazily so that one task's optional needs never slow another."""

from __future__ import annotations

import importlib
from typing import Any

from spikeopt.tasks.base import Task, option_fields

_TASKS: dict[str, str] = {
    "first-last-xor": "spikeopt.tasks.first_last_xor:FirstLastXor",
    "addition": "spikeopt.tasks.addition:Addition",
    "mnist-seq": "spikeopt.tasks.mnist_seq:MnistSeq",
    "event-digits": "spikeopt.tasks.events.tasks:EventDigits",
    "nmnist": "spikeopt.tasks.events.tasks:NMnist",
    "dvs-gesture": "spikeopt.tasks.events.tasks:DvsGesture",
    "ucr": "spikeopt.tasks.ucr:Ucr",
    "arrays": "spikeopt.tasks.arrays:Arrays",
}


def task_names() -> list[str]:
    return list(_TASKS)


def task_class(name: str) -> type[Task]:
    """The class of task ``name``; an unknown name raises with the list of valid ones."""
    if name not in _TASKS:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(_TASKS)}")
    module, attr = _TASKS[name].split(":")
    return getattr(importlib.import_module(module), attr)


def make_task(name: str, **options: Any) -> Task:
    """Build task ``name`` with its options; unknown options raise with the list of valid ones."""
    cls = task_class(name)

    valid = {f.name for f in option_fields(cls)}
    unknown = sorted(set(options) - valid)
    if unknown:
        raise ValueError(f"task {name!r} has no option(s) {unknown}; valid options: {sorted(valid)}")
    return cls(**options)
