"""``spikeopt export MODEL.pt --format nir --out model.nir``: a checkpoint to an interchange format."""

from __future__ import annotations

import argparse

from spikeopt.export.checkpoint import load_model
from spikeopt.export.nir import DEFAULT_DT, export_nir

FORMATS = ("nir",)


def cmd_export(argv: list[str]) -> int:
    p = argparse.ArgumentParser(prog="spikeopt export", description="Write a saved network in an interchange format.")
    p.add_argument("model", help="a checkpoint written by spikeopt (save_model / train --save)")
    p.add_argument("--format", choices=FORMATS, default="nir", help="output format (default nir)")
    p.add_argument("--out", required=True, help="the file to write, e.g. model.nir")
    p.add_argument("--reset-policy", choices=("refuse", "subgraph", "metadata"), default="refuse",
                   help="subtractive-reset networks only: subgraph (exact LI/Threshold loop), metadata (a zero-reset "
                        "LIF that records the real reset; importers will reset to zero) or refuse (default)")
    p.add_argument("--dt", type=float, default=None, help="simulator time step written to the graph (default 1e-4, "
                   "snnTorch's NIR convention)")
    args = p.parse_args(argv)

    model, _ = load_model(args.model)
    try:
        path = export_nir(model, args.out, reset_policy=args.reset_policy,
                          dt=DEFAULT_DT if args.dt is None else args.dt)
    except ImportError as err:
        raise ValueError(str(err)) from None
    print(f"NIR graph written to {path} (reset {model.reset_mechanism}, "
          f"{'lossless' if model.reset_mechanism != 'subtract' else 'policy ' + args.reset_policy})")
    return 0
