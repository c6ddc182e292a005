"""Saving and loading trained networks; NIR export (the ``nir`` package is imported only when used)."""

from spikeopt.export.checkpoint import load_model, save_model
from spikeopt.export.nir import export_nir, to_nir

__all__ = ["export_nir", "load_model", "save_model", "to_nir"]
