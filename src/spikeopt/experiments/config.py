"""One config object per run: task, model, method, training and solver settings, seed.

Configs are nested dataclasses. They load from YAML (or a dict), take dotted overrides such as
``sg.lr=1e-3`` or ``task_options.steps=16``, and round-trip through ``to_dict`` so every result can
carry the full config that produced it.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import types
import typing
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from spikeopt.train.registry import MethodSettings

# The settings sections (model, sg, finetune, convex, admm, sast, stages) and their dataclasses.
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
        """Build from a (possibly partial) nested dict; unknown keys raise with the valid ones.

        Values are checked against the field types (an integer field refuses ``true`` and ``1.5``
        but takes ``1e1`` as 10); a bad value raises :class:`ConfigError` naming the field.
        """
        if not isinstance(data, dict):
            raise TypeError(f"a run config must be a mapping, got {type(data).__name__}")
        valid = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - valid)
        if unknown:
            raise ConfigError(unknown[0], f"unknown config key(s) {unknown}; valid keys: {sorted(valid)}")
        hints = _hints(cls)
        kwargs: dict[str, Any] = {}
        for key, value in data.items():
            if key in _SECTIONS:
                base = dataclasses.asdict(getattr(cls(), key))
                if not isinstance(value, dict):
                    raise ConfigError(key, f"config section {key!r} must be a mapping, got {value!r}")
                extra = sorted(set(value) - set(base))
                if extra:
                    raise ConfigError(f"{key}.{extra[0]}",
                                      f"unknown key(s) {extra} in config section {key!r}; valid: {sorted(base)}")
                types_ = _hints(_SECTIONS[key])
                checked = {k: _check_value(f"{key}.{k}", v, types_.get(k, Any)) for k, v in value.items()}
                try:
                    kwargs[key] = _SECTIONS[key](**{**base, **checked})
                except (ValueError, TypeError) as err:
                    bad = next((k for k in checked if k in str(err)), None)
                    raise ConfigError(f"{key}.{bad}" if bad else key, f"{key}: {err}") from None
            elif key == "task_options":
                if not isinstance(value, dict):
                    raise ConfigError(key, f"task_options must be a mapping of option: value, got {value!r}")
                kwargs[key] = dict(value)
            else:
                kwargs[key] = _check_value(key, value, hints.get(key, Any))
        return cls(**kwargs)

    @classmethod
    def from_yaml(cls, path: str | Path) -> RunConfig:
        """Load a YAML file; malformed YAML and bad values name the file, the line and the field."""
        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"config file {path} does not exist" + (" (it is a folder)" if path.is_dir() else ""))
        text = path.read_text()
        try:
            data = yaml.safe_load(text)
            lines = yaml_lines(text)
        except yaml.YAMLError as err:
            mark = getattr(err, "problem_mark", None) or getattr(err, "context_mark", None)
            where = f" line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""
            problem = getattr(err, "problem", None) or str(err).splitlines()[0]
            raise ValueError(f"{path}{where}: malformed YAML: {problem}") from None
        if data is None:
            data = {}
        if not isinstance(data, dict):
            raise TypeError(f"{path}: a run config must be a mapping of key: value, got {type(data).__name__}")
        try:
            return cls.from_dict(data)
        except ConfigError as err:
            line = lines.get(err.field) or lines.get(err.field.split(".")[0])
            raise ConfigError(err.field, f"{path}{f' line {line}' if line else ''}: {err.reason}") from None

    def override(self, assignments: list[str]) -> RunConfig:
        """Apply ``key=value`` / ``section.key=value`` assignments (values parsed as YAML)."""
        data = self.to_dict()
        source: dict[str, str] = {}
        for item in assignments:
            key, sep, raw = item.partition("=")
            if not sep or not key:
                raise ValueError(f"override {item!r} must look like key=value, e.g. sg.lr=1e-3")
            set_dotted(data, key.strip(), parse_value(raw))
            source[key.strip()] = item
        try:
            return RunConfig.from_dict(data)
        except ConfigError as err:
            item = source.get(err.field)
            if item is None:
                raise
            raise ConfigError(err.field, f"{err.reason} (from {item!r})") from None

    def with_values(self, values: dict[str, Any]) -> RunConfig:
        """A copy with dotted keys set to already-typed values (what a sweep grid point holds)."""
        data = self.to_dict()
        for key, value in values.items():
            set_dotted(data, key, value)
        return RunConfig.from_dict(data)

    def key(self) -> str:
        """Stable hash of the full config: the store's primary key, so equal runs are done once."""
        return config_key(self.to_dict())


def progress_off() -> list[str]:
    """Overrides that hide every progress bar: one for each section with a ``progress`` setting
    (the one list, so the CLI's ``--no-progress`` and the sweep's quiet workers cannot drift apart)."""
    return [f"{name}.progress=false" for name, kind in _SECTIONS.items()
            if "progress" in {f.name for f in dataclasses.fields(kind)}]


# Fields added after configs were first stored, with the value that reproduces the behaviour from
# before they existed. At that value they are left out of the hash, so a stored run's key (and its
# place in a resumed sweep) does not change when a field is added.
NEUTRAL_ADDED_FIELDS: dict[str, dict[str, Any]] = {
    "convex": {"allow_unconverged": False, "select": "val", "grow_rounds": 0, "grow_candidates": 64, "grow_add": 32,
               # the paper's single block of Gaussian witnesses; the calibration settings then do nothing
               "witnesses": "gaussian", "atoms": None, "rate_band": (0.05, 0.95), "near_duplicate": 0.005,
               "calibration_samples": 256, "max_blocks": None, "progress": True,
               # auto packing shrinks cvx / sg-cvx's rebuilt network without changing one output, and
               # leaves cvx-sg's as it was: stored runs' metrics hold
               "pack": None,
               # auto refit acts only after a reg path; the protocols run one reg per run
               "refit": None},
    "model": {"delays": "none", "readout": None, "readout_leak": 1.0},
    # a constant learning rate (the trainers' only behaviour before the schedules)
    **{section: {"lr_schedule": "constant", "lr_step_size": 10, "lr_gamma": 0.1, "checkpoint": None, "resume": False}
       for section in ("sg", "finetune")},
    "sast": {"lr_schedule": "constant", "lr_step_size": 10, "lr_gamma": 0.1, "checkpoint": None, "resume": False,
             # an evaluation setting: what is trained does not depend on it
             "sharpness_rho": 0.05},
    # mid-run checkpoints change where state is saved, not what is trained
    # select (validation selection) is hashed out at its default so that every other method's stored runs keep
    # their keys; no suite stored ADMM runs before it (a user's own sweep would reuse last-iteration runs)
    "admm": {"checkpoint": None, "resume": False, "checkpoint_every": 10, "select": True},
    # a whole section added later: left out of the hash while every field is neutral
    "stages": {"pretrain_fraction": None},
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
            if not data[section]:
                del data[section]
    text = json.dumps(data, sort_keys=True, separators=(",", ":"), default=_canonical)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _canonical(value: Any) -> Any:
    if isinstance(value, (tuple, set)):
        return list(value)
    raise TypeError(f"config value {value!r} of type {type(value).__name__} cannot be hashed; use plain types")


class ConfigError(ValueError):
    """A config value that is wrong; ``field`` is its dotted name (``sg.epochs``), ``reason`` the message."""

    def __init__(self, field: str, reason: str) -> None:
        self.field, self.reason = field, reason
        super().__init__(reason if field in reason else f"config field {field}: {reason}")


def _hints(cls: type) -> dict[str, Any]:
    try:
        return typing.get_type_hints(cls)
    except Exception:  # noqa: BLE001 - unresolvable annotations: skip type checks, keep the section's own
        return {}


def _check_value(name: str, value: Any, hint: Any) -> Any:
    """``value`` as the type ``hint`` asks for, or a :class:`ConfigError` naming the field.

    YAML 1.1 reads ``1e-3`` and ``1e1`` as strings: numeric strings become numbers; an integral
    float (``1e1``) fills an integer field; booleans never fill a number field.
    """
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        if len(options) == 1:
            return _check_value(name, value, options[0])
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise ConfigError(name, f"config field {name} must be true or false, got {value!r}")
        return value
    if hint in (int, float):
        if isinstance(value, bool):
            raise ConfigError(name, f"config field {name} must be {'an integer' if hint is int else 'a number'}, "
                                    f"got the boolean {str(value).lower()}")
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                raise ConfigError(name, f"config field {name} must be a number, got {value!r}") from None
        if not isinstance(value, (int, float)):
            raise ConfigError(name, f"config field {name} must be a number, got {value!r}")
        if hint is int:
            if isinstance(value, float) and not value.is_integer():
                raise ConfigError(name, f"config field {name} must be an integer, got {value!r}")
            return int(value)
        return value
    if hint is str and not isinstance(value, str):
        raise ConfigError(name, f"config field {name} must be a string, got {value!r}")
    return value


def yaml_lines(text: str) -> dict[str, int]:
    """``{dotted key: line number}`` of every mapping key in a YAML document (1-based)."""
    lines: dict[str, int] = {}

    def walk(node: Any, prefix: str) -> None:
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                name = f"{prefix}{key.value}"
                lines[name] = key.start_mark.line + 1
                walk(value, name + ".")

    walk(yaml.compose(text), "")
    return lines


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
