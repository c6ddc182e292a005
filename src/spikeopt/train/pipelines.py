"""Former home of the paper's training variants, kept so that existing imports keep working.

The methods now live one per module (``surrogate``, ``cvx``, ``admm``, ``sast``) behind the contract
of :mod:`spikeopt.train.base`; :mod:`spikeopt.train.registry` lists them and runs them.
"""

from spikeopt.train.base import MethodOutput
from spikeopt.train.convex_config import CONVEX_LOSSES, WITNESS_KINDS, ConvexConfig
from spikeopt.train.cvx import (
    BLOCK_NEURONS,
    block_seed,
    convex_readout,
    witness_sampler,
)
from spikeopt.train.registry import (
    METHOD_NAMES,
    METHODS,
    MethodSettings,
    get_method,
    methods_for,
    run_method,
)

__all__ = [
    "BLOCK_NEURONS", "CONVEX_LOSSES", "METHODS", "METHOD_NAMES", "WITNESS_KINDS", "ConvexConfig", "MethodOutput",
    "MethodSettings", "block_seed", "convex_readout", "get_method", "methods_for", "run_method", "witness_sampler",
]
