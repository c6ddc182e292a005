"""Our NIR export read by snnTorch's own NIR importer (needs nir, nirtorch, snntorch).

    python benchmarks/nir_snntorch.py

For each reset: export a random network with ``reset_policy="metadata"`` (a plain NIR LIF, the
form snnTorch imports), import it with ``snntorch.import_nir.import_from_nir``, run both on the
same inputs and count hidden spikes that differ. Zero reset: expected identical (lossless).
Subtractive reset: snnTorch builds zero-reset neurons, so spikes change -- the reason export
refuses a subtract-reset network without an explicit policy. Accuracy-free, no timings.
"""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _meta import run_meta  # noqa: E402


def main() -> int:
    import snntorch as snn
    from snntorch.import_nir import import_from_nir

    from spikeopt.export.nir import to_nir
    from spikeopt.snn.network import ParallelLIFSNN

    torch.manual_seed(0)
    rows = []
    for reset in ("zero", "subtract"):
        net = ParallelLIFSNN(4, 3, subnetworks=8, width=16, depth=1, beta=0.9, threshold=1.0,
                             reset_mechanism=reset, init_scale=2.0, seed=0).eval()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            imported = import_from_nir(to_nir(net, reset_policy="metadata"))
        x = torch.rand(50, 32, 4, generator=torch.Generator().manual_seed(1))
        ours = net.hidden_spikes(x).flatten(-2)
        leaky = [m for m in imported.modules() if isinstance(m, snn.Leaky)]
        seen: list[torch.Tensor] = []
        def record(module, inputs, output, seen=seen):
            seen.append((output[0] if isinstance(output, tuple) else output).detach())

        leaky[0].register_forward_hook(record)
        leaky[0].reset_mem()
        state = None
        with torch.no_grad():
            for t in range(x.shape[0]):
                _, state = imported(x[t], state)
        theirs = torch.stack(seen)
        rows.append({"reset": reset, "snntorch_reset": leaky[0].reset_mechanism,
                     "changed_spike_fraction": float((theirs != ours).float().mean()),
                     "our_rate": float(ours.mean()), "snntorch_rate": float(theirs.mean())})
        print(rows[-1])
    out = Path(__file__).resolve().parent / "results" / "nir_snntorch.json"
    out.write_text(json.dumps({"meta": run_meta(), "rows": rows}, indent=2))
    print(f"written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
