"""The user-facing architecture settings of a ParallelLIFSNN (what a config file or the CLI sets)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from typing import Any

from spikeopt.snn.network import ParallelLIFSNN, check_delays, octave_delays

DELAY_CHOICES = ("auto", "none")


@dataclass
class ModelConfig:
    """Architecture of the parallel LIF-SNN; input/output sizes and readout come from the task."""

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
    delays: Any = "none"

    def __post_init__(self) -> None:
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

    def build(self, in_features: int, out_features: int, readout: str, seed: int | None = None) -> ParallelLIFSNN:
        return ParallelLIFSNN(in_features, out_features, readout=readout, seed=seed, **self.network_kwargs())

    def network_kwargs(self) -> dict[str, Any]:
        """The fields as ParallelLIFSNN keywords; 'auto' delays need the input length (:meth:`resolved`)."""
        settings = asdict(self)
        if self.delays == "auto":
            raise ValueError("model.delays='auto' depends on the input length: call ModelConfig.resolved(steps) first")
        if self.delays == "none":
            settings["delays"] = [0]
        return settings
