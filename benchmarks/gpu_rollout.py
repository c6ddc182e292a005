"""Dictionary roll-out on a GPU: the fused Triton LIF kernel vs the torch loop vs snnTorch, same spikes.

    python benchmarks/gpu_rollout.py --n 16000 --steps 32 128 512

The witnesses of ``benchmarks/dictionary.py`` (64 subnetworks x 32 neurons, depth 2, Gaussian,
first-last-XOR): every code rolls the ``N`` sequences on the GPU and returns the final-step spikes
of the last layer. ``ours`` = ``ParallelLIFSNN.spike_readout`` (subnetwork-major rollout, the LIF
loop one Triton kernel per block and layer), ``ours-torch`` = the same with ``SPIKEOPT_TRITON=0``
(the per-step torch ops), ``snntorch`` = snnTorch ``Leaky`` layers in a loop over subnetworks and
steps. Times are wall seconds with the GPU synchronised, median of ``--repeats`` after one warm-up
run. Every code's spikes are compared bit for bit with ours on the CPU (at the smallest T).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from _meta import run_meta  # noqa: E402
from dictionary import _data, snntorch_spikes  # noqa: E402

HERE = Path(__file__).resolve().parent


def _timed(fn, repeats: int):
    import torch

    fn()  # warm-up: kernel compilation, allocator
    times, out = [], None
    for _ in range(repeats):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        out = fn()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=16000)
    ap.add_argument("--steps", type=int, nargs="+", default=[32, 128, 512])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--out", default=str(HERE / "results" / "gpu_rollout.json"))
    args = ap.parse_args(argv)
    import os

    import torch

    if not torch.cuda.is_available():
        print("no CUDA device: nothing to measure")
        return 1
    gpu = torch.cuda.get_device_name()
    rows = []
    print(f"{gpu}; N = {args.n}; wall s (GPU synchronised), median of {args.repeats}")
    print(f"{'T':>5s} {'ours':>8s} {'ours-torch':>10s} {'snntorch':>9s} {'vs torch':>8s} {'vs snnTorch':>11s} same")
    for i, steps in enumerate(args.steps):
        x, net = _data(steps, args.n)
        ref = None
        if i == 0:
            ref = net.spike_readout(x, "final").flatten(1).to(torch.uint8).numpy()
        netc, xc = net.to("cuda"), x.to("cuda")

        def ours():
            return netc.spike_readout(xc, "final").flatten(1).to(torch.uint8).cpu().numpy()

        t_ours, s_ours = _timed(ours, args.repeats)
        os.environ["SPIKEOPT_TRITON"] = "0"
        t_torch, s_torch = _timed(ours, args.repeats)
        os.environ["SPIKEOPT_TRITON"] = "1"
        t_snn, s_snn = _timed(lambda: snntorch_spikes(netc, xc), max(1, args.repeats // 3))
        same = bool(np.array_equal(s_ours, s_torch) and np.array_equal(s_ours, s_snn)
                    and (ref is None or np.array_equal(s_ours, ref)))
        row = {"steps": steps, "n": args.n, "ours_s": t_ours, "ours_torch_s": t_torch, "snntorch_s": t_snn,
               "speedup_vs_torch_loop": t_torch / t_ours, "speedup_vs_snntorch": t_snn / t_ours,
               "same_spikes": same, "checked_against_cpu": ref is not None,
               "spike_rate": float(s_ours.mean())}
        rows.append(row)
        print(f"{steps:5d} {t_ours:8.3f} {t_torch:10.3f} {t_snn:9.3f} {t_torch / t_ours:7.1f}x "
              f"{t_snn / t_ours:10.1f}x {same}", flush=True)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": run_meta(gpu=gpu, torch=torch.__version__), "rows": rows}, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
