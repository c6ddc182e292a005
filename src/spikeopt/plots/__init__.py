"""Plots (matplotlib, an optional extra): one file per method or report, imported lazily."""
