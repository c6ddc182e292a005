"""spikeopt: train spiking neural networks beyond surrogate gradients.

Convex parameter reconstruction with certified optima, ADMM and sharpness-aware surrogate
training, each beside a strong surrogate-gradient baseline. Tensors are time-major ``[T, B, F]``.
"""

from spikeopt.snn import LIF, ParallelLIFSNN, surrogate

__version__ = "0.1.0"

__all__ = ["LIF", "ParallelLIFSNN", "__version__", "surrogate"]
