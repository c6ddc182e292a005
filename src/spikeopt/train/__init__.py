"""Training methods, one leaf module each, behind the contract of :mod:`spikeopt.train.base`;
:mod:`spikeopt.train.registry` is the one place that lists them and runs them."""

from spikeopt.train.surrogate import SGConfig, TrainHistory, train_sg

__all__ = ["SGConfig", "TrainHistory", "train_sg"]
