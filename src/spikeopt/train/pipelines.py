"""Former home of the paper's training variants, kept so that existing imports keep working.

The methods now live one per module (``surrogate``, ``cvx``, ``admm``, ``sast``) behind the contract
of :mod:`spikeopt.train.base`; :mod:`spikeopt.train.registry` lists them and runs them. ``method_sg``
and the others are the methods themselves, callable as before: ``(task, splits, settings, seed, device)``.
"""

from spikeopt.train.admm import ADMM as method_admm
from spikeopt.train.base import MethodOutput
from spikeopt.train.convex_config import CONVEX_LOSSES, WITNESS_KINDS, ConvexConfig
from spikeopt.train.cvx import BLOCK_NEURONS, block_seed, convex_readout, witness_sampler
from spikeopt.train.cvx import CVX as method_cvx
from spikeopt.train.cvx import CVX_SG as method_cvx_sg
from spikeopt.train.cvx import SG_CVX as method_sg_cvx
from spikeopt.train.registry import METHOD_NAMES, METHODS, MethodSettings, get_method, methods_for, run_method
from spikeopt.train.sast import SAST as method_sast
from spikeopt.train.surrogate import SG as method_sg
from spikeopt.train.surrogate import SG_SG as method_sg_sg

__all__ = [
    "BLOCK_NEURONS", "CONVEX_LOSSES", "METHODS", "METHOD_NAMES", "WITNESS_KINDS", "ConvexConfig", "MethodOutput",
    "MethodSettings", "block_seed", "convex_readout", "get_method", "method_admm", "method_cvx", "method_cvx_sg",
    "method_sast", "method_sg", "method_sg_cvx", "method_sg_sg", "methods_for", "run_method", "witness_sampler",
]
