"""One config object per run: task, model, method, training and solver settings, seed.

Configs are nested dataclasses. They load from YAML (or a dict), take dotted overrides such as
``sg.lr=1e-3`` or ``task_options.steps=16``, and round-trip through ``to_dict`` so every result can
carry the full config that produced it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from spikeopt.train.pipelines import MethodSettings

# The settings sections (model, sg, finetune, convex, admm, sast) and their dataclasses.
_SECTIONS: dict[str, type] = {
    f.name: type(getattr(MethodSettings(), f.name)) for f in dataclasses.fields(MethodSettings)
}


@dataclass
class RunConfig(MethodSettings):
    """Everything that defines one run: the task, the method, the seed and every method's settings."""

    task: str = "first-last-xor"
    task_options: dict[str, Any] = field(default_factory=dict)
    method: str = "sg"
    seed: int = 0
    device: str = "auto"

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RunConfig:
        """Build from a (possibly partial) nested dict; unknown keys raise with the valid ones."""
        if not isinstance(data, dict):
            raise TypeError(f"a run config must be a mapping, got {type(data).__name__}")
        valid = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - valid)
        if unknown:
            raise ValueError(f"unknown config key(s) {unknown}; valid keys: {sorted(valid)}")
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in _SECTIONS:
                base = dataclasses.asdict(getattr(cls(), key))
                if not isinstance(value, dict):
                    raise TypeError(f"config section {key!r} must be a mapping, got {value!r}")
                extra = sorted(set(value) - set(base))
                if extra:
                    raise ValueError(f"unknown key(s) {extra} in config section {key!r}; valid: {sorted(base)}")
                kwargs[key] = _SECTIONS[key](**{**base, **{k: _coerce(v, base[k]) for k, v in value.items()}})
            else:
                kwargs[key] = dict(value) if key == "task_options" else value
        return cls(**kwargs)

    @classmethod
    def from_yaml(cls, path: str | Path) -> RunConfig:
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist")
        return cls.from_dict(yaml.safe_load(path.read_text()) or {})

    def override(self, assignments: list[str]) -> RunConfig:
        """Apply ``key=value`` / ``section.key=value`` assignments (values parsed as YAML)."""
        data = self.to_dict()
        for item in assignments:
            key, sep, raw = item.partition("=")
            if not sep or not key:
                raise ValueError(f"override {item!r} must look like key=value, e.g. sg.lr=1e-3")
            set_dotted(data, key.strip(), parse_value(raw))
        return RunConfig.from_dict(data)

    def with_values(self, values: dict[str, Any]) -> RunConfig:
        """A copy with dotted keys set to already-typed values (what a sweep grid point holds)."""
        data = self.to_dict()
        for key, value in values.items():
            set_dotted(data, key, value)
        return RunConfig.from_dict(data)

    def key(self) -> str:
        """Stable hash of the full config: the store's primary key, so equal runs are done once."""
        return config_key(self.to_dict())


# Fields added after configs were first stored, with the value that reproduces the behaviour from
# before they existed. At that value they are left out of the hash, so a stored run's key (and its
# place in a resumed sweep) does not change when a field is added.
NEUTRAL_ADDED_FIELDS: dict[str, dict[str, Any]] = {
    "convex": {"allow_unconverged": False, "grow_rounds": 0, "grow_candidates": 64, "grow_add": 32},
}


def config_key(data: dict[str, Any]) -> str:
    """SHA-256 (first 16 hex digits) of the config as canonical JSON (sorted keys, tuples as lists).

    Fields of ``NEUTRAL_ADDED_FIELDS`` at their neutral value are left out.
    """
    data = dict(data)
    for section, neutral in NEUTRAL_ADDED_FIELDS.items():
        if isinstance(data.get(section), dict):
            data[section] = {k: v for k, v in data[section].items() if not (k in neutral and v == neutral[k]
                                                                             and type(v) is type(neutral[k]))}
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=_canonical)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _canonical(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"config value {value!r} of type {type(value).__name__} cannot be hashed; use plain types")


def _coerce(value: Any, default: Any) -> Any:
    """YAML reads ``1e-3`` as a string; turn such strings into the number the field holds."""
    numeric = isinstance(default, (int, float)) and not isinstance(default, bool)
    if isinstance(value, str) and (numeric or default is None):
        try:
            return float(value)
        except ValueError:
            if numeric:
                raise ValueError(f"expected a number, got {value!r}") from None
    return value


def parse_value(raw: str) -> Any:
    """A command-line value: numbers, YAML scalars and lists, with ``a,b,c`` read as a list."""
    raw = raw.strip()
    for number in (int, float):
        try:
            return number(raw)
        except ValueError:
            pass
    if "," in raw and not raw.startswith(("[", "{", "'", '"')):
        raw = f"[{raw}]"
    value = yaml.safe_load(raw) if raw else None
    return value


def set_dotted(data: dict[str, Any], key: str, value: Any) -> None:
    parts = key.split(".")
    node = data
    for part in parts[:-1]:
        if part not in node or not isinstance(node[part], dict):
            raise ValueError(f"unknown config section {part!r} in {key!r}")
        node = node[part]
    node[parts[-1]] = value
