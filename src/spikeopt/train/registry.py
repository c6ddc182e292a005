"""The one place that knows every training method: their names, their config sections, and how a
run's settings reach them. Each method is a leaf that receives only its own typed sections.

=======  ==================================  =====================================
method   hidden dynamics                     readout / last stage
=======  ==================================  =====================================
sg       surrogate-gradient trained          surrogate-gradient trained
cvx      calibrated (or Gaussian) witnesses  certified convex solve
sg-cvx   SG-trained, then frozen             certified convex solve
sg-sg    SG-trained                          SG fine-tuning (``finetune`` budget)
cvx-sg   the CVX network                     SG fine-tuning of all parameters
admm     ADMM, closed-form updates           (gradient-free, ``train/admm.py``)
sast     SAM on the surrogate-forward net    judged with hard spikes (``train/sast.py``)
=======  ==================================  =====================================
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields, replace

import torch

from spikeopt.snn.config import ModelConfig
from spikeopt.tasks.base import SequenceData, Task
from spikeopt.train.admm import ADMM
from spikeopt.train.admm_config import ADMMConfig
from spikeopt.train.base import MethodOutput, MethodSpec
from spikeopt.train.convex_config import ConvexConfig
from spikeopt.train.cvx import CVX, CVX_SG, SG_CVX
from spikeopt.train.sast import SAST
from spikeopt.train.sast_config import SASTConfig
from spikeopt.train.stages import StageConfig
from spikeopt.train.surrogate import SG, SG_SG, SGConfig

METHODS: dict[str, MethodSpec] = {m.name: m for m in (SG, CVX, SG_CVX, SG_SG, CVX_SG, ADMM, SAST)}
METHOD_NAMES = tuple(METHODS)


@dataclass
class MethodSettings:
    """Every method's config section; each method receives only the sections it declares."""

    model: ModelConfig = field(default_factory=ModelConfig.recommended)
    sg: SGConfig = field(default_factory=SGConfig)
    finetune: SGConfig = field(default_factory=lambda: SGConfig(epochs=10, lr=1e-3))
    convex: ConvexConfig = field(default_factory=ConvexConfig)
    admm: ADMMConfig = field(default_factory=ADMMConfig)
    sast: SASTConfig = field(default_factory=SASTConfig)
    stages: StageConfig = field(default_factory=StageConfig)


SECTIONS = tuple(f.name for f in fields(MethodSettings))


def get_method(name: str) -> MethodSpec:
    """The method called ``name``; unknown names raise with the list of valid ones."""
    if name not in METHODS:
        raise ValueError(f"unknown method {name!r}; valid methods: {', '.join(METHODS)}")
    return METHODS[name]


def methods_for(readout: str) -> list[str]:
    """The methods that train a task with this readout (ADMM trains a final-step readout only)."""
    return [name for name, m in METHODS.items() if readout in m.readouts]


def run_method(
    name: str, task: Task, splits: dict[str, SequenceData], settings: MethodSettings, seed: int, device: torch.device
) -> MethodOutput:
    """Train with method ``name``, handing it only its own sections of ``settings``."""
    method = get_method(name)
    torch.manual_seed(seed)
    settings = replace(settings, model=settings.model.resolved(splits["train"].steps))
    return method.fit(task, splits, seed, device, **method.sections_of(settings))
