"""The contract every training method keeps: what it returns, what it declares, how it is called.

A method is a leaf: it receives only the config sections it declares (typed), never the whole run
config, so a method cannot quietly read another method's settings. :mod:`spikeopt.train.registry`
is the one module that imports every method and hands each its sections.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Callable, Mapping, Protocol, runtime_checkable

from spikeopt.snn.network import ParallelLIFSNN

TASK_READOUTS = ("final", "per_step")  # the readouts a task can ask for (tasks/base.py READOUTS)


@dataclass
class MethodOutput:
    """A trained network and what the method recorded about it (timings, histories, certificates)."""

    model: ParallelLIFSNN
    info: dict[str, Any]


@runtime_checkable
class Method(Protocol):
    """What the registry needs of a training method."""

    name: str
    configs: Mapping[str, type]  # run-config section -> its config class: the only settings ``fit`` receives
    readouts: tuple[str, ...]  # the task readouts it trains

    def fit(self, task: Any, splits: Any, seed: int, device: Any, **sections: Any) -> MethodOutput: ...


@dataclass(frozen=True)
class MethodSpec:
    """A :class:`Method` built from a plain function ``fit(task, splits, seed, device, **sections)``."""

    name: str
    configs: Mapping[str, type]
    fit: Callable[..., MethodOutput]
    readouts: tuple[str, ...] = TASK_READOUTS
    summary: str = ""

    def supports(self, readout: str) -> bool:
        return readout in self.readouts

    def sections_of(self, settings: Any) -> dict[str, Any]:
        """This method's sections of ``settings`` (any object with them as attributes), type-checked."""
        sections = {}
        for section, kind in self.configs.items():
            value = getattr(settings, section)
            if not isinstance(value, kind):
                raise TypeError(f"settings.{section} must be a {kind.__name__} for method {self.name!r}, "
                                f"got {type(value).__name__}")
            sections[section] = value
        return sections

    def __call__(self, task: Any, splits: Any, settings: Any, seed: int, device: Any) -> MethodOutput:
        """The former calling convention, ``METHODS[name](task, splits, settings, seed, device)``."""
        return self.fit(task, splits, seed, device, **self.sections_of(settings))


def option(default: Any = dataclasses.MISSING, *, flag: str | None = None, help: str = "",
           type: type | None = None, default_factory: Any = dataclasses.MISSING) -> Any:
    """A config field that also declares its command-line flag (``spikeopt train --help`` shows it
    with the field's default), so the CLI flags are generated from the config, not listed twice.

    ``type`` parses the flag's value where the default does not tell (a ``None`` default).
    """
    metadata = {"flag": flag, "help": help, "type": type}
    if default_factory is not dataclasses.MISSING:
        return dataclasses.field(default_factory=default_factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)
