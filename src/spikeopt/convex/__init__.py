"""Convex parameter reconstruction: witnesses -> spike dictionary -> certified solve -> network."""

from spikeopt.convex.calibrate import calibrated_witnesses
from spikeopt.convex.dictionary import SpikeDictionary, build_dictionary
from spikeopt.convex.dictionary_fill import fill_dictionary
from spikeopt.convex.reconstruct import ReconstructionReport, reconstruct
from spikeopt.convex.solution import ConvexSolution
from spikeopt.convex.solver import solve, solve_path
from spikeopt.convex.witnesses import gaussian_witnesses, trained_witnesses

__all__ = [
    "ConvexSolution", "ReconstructionReport", "SpikeDictionary", "build_dictionary", "calibrated_witnesses",
    "gaussian_witnesses", "fill_dictionary", "reconstruct", "solve", "solve_path", "trained_witnesses",
]
