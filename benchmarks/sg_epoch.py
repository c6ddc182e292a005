"""SG-training benchmark: one epoch of ``ParallelLIFSNN`` against the equivalent snnTorch network.

    python benchmarks/sg_epoch.py                   # T = 8, 32, 128
    python benchmarks/sg_epoch.py --steps 8 32 --repeats 5

Same sizes (first-last-XOR, ``--samples`` sequences, batch 128, 16 subnetworks x 32 neurons,
depth 1, readout at the last step), same surrogate (atan, slope 2 = snnTorch ``surrogate.atan(alpha=2)``),
same optimizer (Adam, lr 3e-3), same loss (cross-entropy). The snnTorch network is what a user
writes: ``nn.Linear(1, 512)`` -> ``snn.Leaky(beta=0.9, threshold=1, reset_mechanism="subtract")``
stepped in a Python loop over time -> ``nn.Linear(512, 2)`` on the last spikes (one wide layer is
exactly 16 parallel depth-1 subnetworks). Every measurement runs in a fresh child process, ours and
snnTorch alternating, ``--repeats`` times (medians); each child runs one warm-up epoch, then times
``--epochs`` epochs. Peak memory is the child's peak RSS growth over its set-up. Target: our epoch
at most 0.7x snnTorch's.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from _meta import run_meta  # noqa: E402 (benchmarks/ is on sys.path when run as a script)

HERE = Path(__file__).resolve().parent
K, M, BATCH, LR = 16, 32, 128, 3e-3


def _child(kind: str, steps: int, samples: int, epochs: int, threads: int) -> dict:
    import torch
    from torch import nn

    if threads > 0:
        torch.set_num_threads(threads)

    torch.manual_seed(0)
    from spikeopt.tasks.first_last_xor import FirstLastXor

    data = FirstLastXor(steps=steps, n_train=samples, n_val=1, n_test=1).splits(0)["train"]
    x, y = data.x, data.y[:, 0]
    if kind == "ours":
        from spikeopt.snn.network import ParallelLIFSNN

        model = ParallelLIFSNN(1, 2, subnetworks=K, width=M, depth=1, beta=0.9, threshold=1.0,
                               surrogate="atan", slope=2.0, readout="final", seed=0)

        def forward(xb):
            return model(xb)[0]
    else:
        import snntorch as snn
        from snntorch import surrogate

        class Net(nn.Module):
            def __init__(self):
                super().__init__()
                self.fc1 = nn.Linear(1, K * M)
                self.lif1 = snn.Leaky(beta=0.9, threshold=1.0, spike_grad=surrogate.atan(alpha=2.0),
                                      reset_mechanism="subtract")
                self.fc2 = nn.Linear(K * M, 2)

            def forward(self, xb):
                mem = self.lif1.init_leaky()
                for t in range(xb.shape[0]):
                    spk, mem = self.lif1(self.fc1(xb[t]), mem)
                return self.fc2(spk)

        model = Net()
        forward = model
    opt = torch.optim.Adam(model.parameters(), lr=LR)
    lossf = nn.CrossEntropyLoss()
    gen = torch.Generator().manual_seed(0)

    def epoch():
        order = torch.randperm(samples, generator=gen)
        for b in range(0, samples, BATCH):
            idx = order[b : b + BATCH]
            loss = lossf(forward(x[:, idx]), y[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()

    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    epoch()  # warm-up
    times = []
    for _ in range(epochs):
        t = time.perf_counter()
        epoch()
        times.append(time.perf_counter() - t)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"epoch_s": float(np.median(times)), "peak_rss_growth_mib": (peak - base) / 1024.0,
            "peak_rss_mib": peak / 1024.0, "threads": torch.get_num_threads()}


def run_child(kind, steps, samples, epochs, threads) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, str(steps), str(samples), str(epochs), str(threads)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        kind, steps, samples, epochs, threads = sys.argv[2], *map(int, sys.argv[3:7])
        print(json.dumps(_child(kind, steps, samples, epochs, threads)))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--steps", type=int, nargs="+", default=[8, 32, 128])
    ap.add_argument("--samples", type=int, default=1024)
    ap.add_argument("--epochs", type=int, default=2, help="timed epochs per child (after one warm-up)")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for both (default 1: robust on a shared machine; 0 = torch default)")
    ap.add_argument("--out", default=str(HERE / "results" / "sg_epoch.json"))
    args = ap.parse_args(argv)
    print("CPU-only; timings noisy when the machine is loaded. ratio = ours / snnTorch (target <= 0.7)")
    print(f"{'T':>4s} {'ours_s':>8s} {'snntorch_s':>10s} {'ratio':>6s} {'ours_MiB':>9s} {'snntorch_MiB':>12s} {'target':>6s}")
    rows = []
    for steps in args.steps:
        res = {"ours": [], "snntorch": []}
        for _ in range(args.repeats):
            for kind in ("ours", "snntorch"):
                res[kind].append(run_child(kind, steps, args.samples, args.epochs, args.threads))
        to = float(np.median([r["epoch_s"] for r in res["ours"]]))
        tp = float(np.median([r["epoch_s"] for r in res["snntorch"]]))
        mo = float(np.median([r["peak_rss_growth_mib"] for r in res["ours"]]))
        mp_ = float(np.median([r["peak_rss_growth_mib"] for r in res["snntorch"]]))
        row = {"steps": steps, "samples": args.samples, "batch": BATCH, "ours_epoch_s": to, "snntorch_epoch_s": tp,
               "ratio": to / tp, "ours_peak_rss_growth_mib": mo, "snntorch_peak_rss_growth_mib": mp_,
               "runs": res, "target_met": to / tp <= 0.7}
        rows.append(row)
        print(f"{steps:4d} {to:8.3f} {tp:10.3f} {to / tp:6.2f} {mo:9.1f} {mp_:12.1f} "
              f"{'met' if row['target_met'] else 'MISSED':>6s}", flush=True)
    out = Path(args.out)
    meta = run_meta(threads=args.threads, config={"subnetworks": K, "width": M, "depth": 1, "batch": BATCH,
                                                   "lr": LR, "surrogate": "atan(2)"})
    from spikeopt.experiments.run import write_json  # here: the parent process measures nothing

    write_json({"meta": meta, "rows": rows}, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
