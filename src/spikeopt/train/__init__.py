"""Training methods, one file each; `pipelines` composes the paper's variants."""

from spikeopt.train.surrogate import SGConfig, TrainHistory, train_sg

__all__ = ["SGConfig", "TrainHistory", "train_sg"]
