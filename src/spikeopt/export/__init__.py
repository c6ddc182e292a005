"""Saving and loading trained networks."""

from spikeopt.export.checkpoint import load_model, save_model

__all__ = ["load_model", "save_model"]
