"""Saving and loading trained networks; NIR export and import (the ``nir`` package is imported only when used)."""

from spikeopt.export.checkpoint import load_model, save_model
from spikeopt.export.nir import export_nir, to_nir
from spikeopt.export.nir_import import from_nir

__all__ = ["export_nir", "from_nir", "load_model", "save_model", "to_nir"]
