"""Argument checks for public entry points, in the style of scikit-learn's ``check_scalar`` /
``check_array``: each names the argument, the allowed values and what was given, so the error says
what to fix. Used where data or settings enter the library, not inside hot loops.
"""

from __future__ import annotations

import math
import numbers
from typing import TYPE_CHECKING, Any, Iterable

import numpy as np

if TYPE_CHECKING:  # torch only where tensors are checked: the numpy-only solver imports this module too
    from torch import Tensor


def check_number(value: Any, name: str, low: float | None = None, high: float | None = None, *,
                 open_low: bool = False, open_high: bool = False, optional: bool = False) -> Any:
    """``value`` unchanged when it is a finite real (not a bool) within the bounds, else ValueError.

    ``open_low`` / ``open_high`` make a bound strict; ``optional`` also accepts ``None``. The value
    is returned as given (an int stays an int), so configs keep the types their users wrote; numpy
    scalars count as numbers.
    """
    if optional and value is None:
        return None
    ok = (isinstance(value, numbers.Real) and not isinstance(value, (bool, np.bool_))
          and math.isfinite(value))
    if ok and low is not None:
        ok = value > low if open_low else value >= low
    if ok and high is not None:
        ok = value < high if open_high else value <= high
    if not ok:
        bounds = []
        if low is not None:
            bounds.append(f"{'>' if open_low else '>='} {low}")
        if high is not None:
            bounds.append(f"{'<' if open_high else '<='} {high}")
        raise ValueError(f"{name} must be a finite number{' ' if bounds else ''}{' and '.join(bounds)}"
                         f"{' or None' if optional else ''}, got {value!r}")
    return value


def check_int(value: Any, name: str, low: int | None = None, *, optional: bool = False) -> Any:
    """``value`` when it is an integer (not a bool; numpy integers too) ``>= low``, else ValueError.

    ``optional`` also accepts ``None``.
    """
    if optional and value is None:
        return None
    if (isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Integral)
            or (low is not None and value < low)):
        raise ValueError(f"{name} must be an integer{'' if low is None else f' >= {low}'}"
                         f"{' or None' if optional else ''}, got {value!r}")
    return value


def check_bool(value: Any, name: str) -> bool:
    """``value`` as a bool when it is ``True`` or ``False`` (numpy's too; YAML's ``yes`` or a string is
    refused), else ValueError."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"{name} must be true or false, got {value!r}")
    return bool(value)


def check_choice(value: Any, name: str, choices: Iterable[str]) -> Any:
    """``value`` when it is one of ``choices``, else ValueError listing them."""
    choices = tuple(choices)
    if value not in choices:
        raise ValueError(f"unknown {name} {value!r}; valid: {', '.join(choices)}")
    return value


def check_sequences(x: Any, name: str = "x", features: int | None = None) -> Tensor:
    """A non-empty, finite, time-major float tensor ``[T, N, F]`` (``F == features`` when given).

    The one NaN/inf check on input data: done where data enters (a task's splits, a trainer's
    inputs), so the network's forward pass never has to synchronise a GPU to look for NaN.
    """
    import torch

    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{name} must be a torch.Tensor [T, N, F], got {type(x).__name__}")
    if x.dim() != 3 or 0 in x.shape:
        raise ValueError(f"{name} must be a non-empty time-major tensor [T, N, F], got shape {tuple(x.shape)}")
    if features is not None and x.shape[2] != features:
        raise ValueError(f"{name} has {x.shape[2]} features per step, the model expects {features}")
    if x.is_floating_point() and not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} contains NaN or inf; clean the inputs first")
    return x
