"""The user-facing architecture settings of a ParallelLIFSNN (what a config file or the CLI sets)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from spikeopt.snn.network import ParallelLIFSNN


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

    def build(self, in_features: int, out_features: int, readout: str, seed: int | None = None) -> ParallelLIFSNN:
        return ParallelLIFSNN(in_features, out_features, readout=readout, seed=seed, **asdict(self))
