"""Tasks: seeded time-major data splits, loss heads and metrics (see `base.Task`)."""

from spikeopt.tasks.base import Head, SequenceData, Task, predict, sequence_loss
from spikeopt.tasks.registry import make_task, task_class, task_names

__all__ = ["Head", "SequenceData", "Task", "make_task", "predict", "sequence_loss", "task_class", "task_names"]
