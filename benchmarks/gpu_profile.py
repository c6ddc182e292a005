"""Where an SG training step's GPU time goes at long T, and how the fused rollout's two knobs move it.

    python benchmarks/gpu_profile.py --steps 1024

The network of ``benchmarks/sg_epoch.py`` (16 x 32 LIF neurons, depth 1, batch 128, final-step
readout, atan, Adam) on CUDA. Prints (1) the median time of one training step (forward, backward,
Adam; GPU synchronised) for each setting of the fused rollout's block size
(``blocked.GPU_BLOCK_ELEMENTS``) and neurons per Triton program
(``triton_lif.NEURONS_PER_PROGRAM``), next to SpikingJelly's multi-step ``LIFNode`` on the same
network; (2) the torch profiler's top CUDA kernels for the default setting. Diagnostic: the
side-by-side epoch figures come from ``sg_epoch.py --device cuda``.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

from _meta import run_meta  # noqa: E402
from sg_epoch import BATCH, LR, build  # noqa: E402

HERE = Path(__file__).resolve().parent


def step_time(kind: str, steps: int, repeats: int) -> float:
    import torch
    from torch import nn

    torch.manual_seed(0)
    x = (torch.rand(steps, BATCH, 1, device="cuda") < 0.5).float()
    y = torch.randint(0, 2, (BATCH,), device="cuda")
    model, forward = build(kind)
    model.to("cuda")
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    lossf = nn.CrossEntropyLoss()

    def one():
        loss = lossf(forward(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        one()
    times = []
    for _ in range(repeats):
        torch.cuda.synchronize()
        t0 = time.perf_counter()
        one()
        torch.cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return float(np.median(times)), one


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, default=1024)
    ap.add_argument("--repeats", type=int, default=20)
    ap.add_argument("--out", default=str(HERE / "results" / "gpu_profile.json"))
    args = ap.parse_args(argv)
    import torch
    from torch.profiler import ProfilerActivity, profile

    from spikeopt.snn import blocked, triton_lif

    rows = []
    sj, _ = step_time("spikingjelly", args.steps, args.repeats)
    print(f"T = {args.steps}, batch {BATCH}: SpikingJelly step {1e3 * sj:.2f} ms")
    for elements in (2**23, 2**26):
        for per_program in (256, 64):
            blocked.GPU_BLOCK_ELEMENTS, triton_lif.NEURONS_PER_PROGRAM = elements, per_program
            t, _ = step_time("ours", args.steps, args.repeats)
            rows.append({"block_elements": elements, "neurons_per_program": per_program, "step_s": t,
                         "ratio_to_spikingjelly": t / sj})
            print(f"ours: block elements 2^{int(np.log2(elements))}, {per_program:3d} neurons/program: "
                  f"{1e3 * t:.2f} ms ({t / sj:.2f}x SpikingJelly)", flush=True)
    blocked.GPU_BLOCK_ELEMENTS, triton_lif.NEURONS_PER_PROGRAM = 2**23, 256
    _, one = step_time("ours", args.steps, 3)
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        for _ in range(5):
            one()
        torch.cuda.synchronize()
    table = prof.key_averages().table(sort_by="cuda_time_total", row_limit=15)
    print(table)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps({"meta": run_meta(gpu=torch.cuda.get_device_name(), steps=args.steps),
                               "spikingjelly_step_s": sj, "ours": rows, "profile": table}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
