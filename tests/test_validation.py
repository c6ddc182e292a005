"""The shared argument checks: accepted values come back unchanged, refused ones name the argument,
the bound and the value given."""

import math

import pytest
import torch

from spikeopt.validation import check_bool, check_choice, check_int, check_number, check_sequences


@pytest.mark.parametrize("value, kwargs", [(0, {"low": 0.0}), (1, {"low": 0.0, "open_low": True}),
                                           (0.5, {"low": 0.0, "high": 1.0}), (-3.5, {})])
def test_numbers_in_bounds_come_back_unchanged(value, kwargs):
    out = check_number(value, "a", **kwargs)
    assert out == value and type(out) is type(value)  # an int stays an int (config keys hash the value)


@pytest.mark.parametrize("value, kwargs, text", [
    (0.0, {"low": 0.0, "open_low": True}, "a must be a finite number > 0.0, got 0.0"),
    (1.5, {"low": 0.0, "high": 1.0}, "a must be a finite number >= 0.0 and <= 1.0, got 1.5"),
    (1.0, {"high": 1.0, "open_high": True}, "a must be a finite number < 1.0, got 1.0"),
    (math.nan, {}, "a must be a finite number, got nan"),
    (True, {}, "a must be a finite number, got True"),
    ("1", {}, "a must be a finite number, got '1'"),
])
def test_numbers_out_of_bounds_say_what_to_fix(value, kwargs, text):
    with pytest.raises(ValueError) as err:
        check_number(value, "a", **kwargs)
    assert str(err.value) == text


def test_int_bool_choice():
    assert check_int(3, "n", 1) == 3
    for bad in (0, 2.0, True, "3"):
        with pytest.raises(ValueError, match="n must be an integer >= 1"):
            check_int(bad, "n", 1)
    assert check_bool(False, "flag") is False
    with pytest.raises(ValueError, match="flag must be true or false, got 'yes'"):
        check_bool("yes", "flag")
    assert check_choice("b", "mode", ("a", "b")) == "b"
    with pytest.raises(ValueError, match=r"unknown mode 'c'; valid: a, b"):
        check_choice("c", "mode", ("a", "b"))


def test_sequences():
    x = torch.zeros(4, 3, 2)
    assert check_sequences(x, features=2) is x
    x[1, 2, 0] = float("nan")
    with pytest.raises(ValueError, match="NaN"):
        check_sequences(x)
    with pytest.raises(ValueError, match="2 features per step, the model expects 5"):
        check_sequences(torch.zeros(4, 3, 2), features=5)
    with pytest.raises(ValueError, match="time-major"):
        check_sequences(torch.zeros(4, 3))
    with pytest.raises(TypeError, match="torch.Tensor"):
        check_sequences([[[0.0]]])
