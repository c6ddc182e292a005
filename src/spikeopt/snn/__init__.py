"""Neuron dynamics and networks: the LIF equation (`lif`), surrogate spikes, `ParallelLIFSNN`."""

from spikeopt.snn.lif import LIF, RESET_MECHANISMS, LIFState, lif_rollout, lif_step
from spikeopt.snn.network import ParallelLIFSNN
from spikeopt.snn.surrogate import SURROGATES, Surrogate, heaviside, surrogate

__all__ = [
    "LIF", "LIFState", "ParallelLIFSNN", "RESET_MECHANISMS", "SURROGATES", "Surrogate",
    "heaviside", "lif_rollout", "lif_step", "surrogate",
]
