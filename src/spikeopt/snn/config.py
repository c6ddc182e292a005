"""The user-facing architecture settings of a ParallelLIFSNN (what a config file or the CLI sets)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from spikeopt.snn.network import READOUTS, ParallelLIFSNN, check_delays, octave_delays

DELAY_CHOICES = ("auto", "none")


@dataclass
class ModelConfig:
    """Architecture of the parallel LIF-SNN; input/output sizes come from the task.

    ``readout=None`` uses the task's own readout; ``"integrate"`` (a leaky integrator of the readout
    over all steps, decay ``readout_leak``) or ``"final"`` override it for every method, so SG and
    CVX get the same architecture.
    """

    subnetworks: int = 16
    width: int = 32
    depth: int = 1
    beta: float = 0.9
    threshold: float = 1.0
    reset_mechanism: str = "subtract"
    surrogate: str = "atan"
    slope: float | None = None
    detach_reset: bool = True
    init_scale: float = 1.0
    readout: str | None = None
    readout_leak: float = 1.0
    delays: Any = "none"

    @classmethod
    def recommended(cls, **overrides: Any) -> "ModelConfig":
        """The architecture a training run uses by default: synaptic delays and a time-integrated readout.

        Why not the plain network: a LIF neuron is a first-order low-pass filter, so without delays
        the first layer cannot respond to the slope or shape of its input (one input channel makes
        every neuron see the same low-passed signal); and a readout of the last step alone throws
        away T - 1 steps of spikes. ``delays="auto"`` (octave delays of the input length) and
        ``readout="auto"`` (a spike-count integrator for tasks read out at the end; per-step tasks
        keep their per-step readout) fix both, for SG and CVX alike. ``ModelConfig()`` stays the
        plain network of the paper, which the reproduction uses.
        """
        return cls(**{"delays": "auto", "readout": "auto", **overrides})

    def __post_init__(self) -> None:
        if self.readout is not None and self.readout != "auto" and self.readout not in READOUTS:
            raise ValueError(
                f"unknown model readout {self.readout!r}; valid: None (the task's), auto, {', '.join(READOUTS)}"
            )
        if isinstance(self.delays, str):
            if self.delays not in DELAY_CHOICES:
                raise ValueError(f"model.delays must be 'auto', 'none' or a list of integers >= 0, got {self.delays!r}")
        else:
            self.delays = list(check_delays(self.delays if isinstance(self.delays, (list, tuple)) else [self.delays]))

    def resolved(self, steps: int) -> "ModelConfig":
        """This config with concrete ``delays`` for inputs of ``steps`` steps ('auto': :func:`octave_delays`)."""
        if self.delays == "auto":
            return replace(self, delays=list(octave_delays(steps)))
        if self.delays == "none":
            return replace(self, delays=[0])
        return self

    def network_settings(self) -> dict[str, Any]:
        """The hidden-network settings as ParallelLIFSNN keywords (everything but the readout choice).

        'auto' delays depend on the input length: call :meth:`resolved` first.
        """
        settings = asdict(self)
        del settings["readout"], settings["readout_leak"]
        if self.delays == "auto":
            raise ValueError("model.delays='auto' depends on the input length: call ModelConfig.resolved(steps) first")
        if self.delays == "none":
            settings["delays"] = [0]
        return settings

    def resolve_readout(self, task_readout: str) -> str:
        """The readout to build: this config's if set, else the task's; a per-step task keeps per_step.

        ``"auto"``: a leaky integrator (spike counts for ``readout_leak=1``) where the task reads out at
        the end of the sequence, the task's own readout otherwise.
        """
        if self.readout == "auto":
            return "integrate" if task_readout == "final" else task_readout
        if self.readout is None or self.readout == task_readout:
            return task_readout
        if task_readout == "per_step":
            raise ValueError(
                f"model.readout={self.readout!r} cannot replace a per-step task's readout (labels at every step); "
                "leave model.readout unset for this task"
            )
        if self.readout == "per_step":
            raise ValueError("model.readout='per_step' needs a per-step task; use 'final' or 'integrate'")
        return self.readout

    def build(self, in_features: int, out_features: int, readout: str, seed: int | None = None) -> ParallelLIFSNN:
        """The network for a task whose own readout is ``readout`` (``self.readout`` overrides it)."""
        return ParallelLIFSNN(
            in_features, out_features, readout=self.resolve_readout(readout), readout_leak=self.readout_leak,
            seed=seed, **self.network_settings(),
        )
