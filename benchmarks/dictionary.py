"""Dictionary-building benchmark: ``build_dictionary`` against the same witnesses in snnTorch.

    python benchmarks/dictionary.py            # first-last-XOR T = 8 and 16, N = 4,000; mnist-seq digits
    python benchmarks/dictionary.py --n 20000  # the issue's larger N

The peer is what a user would write: for every subnetwork, ``nn.Linear`` + ``snn.Leaky(beta,
threshold, reset_mechanism="subtract")`` layers with the witness weights copied in, rolled over the
timesteps in a Python loop under ``torch.no_grad()``, then the same column de-duplication. Both must
give the same spikes (checked). Timings alternate ours / peer, ``--repeats`` times; medians. The
table also reports the rollout's arithmetic rate against the machine's own matrix-multiply rate for
the same matmuls (``torch.bmm`` of the same shapes), i.e. how close the rollout is to pure GEMM.
Target: at least 5x faster than the snnTorch loop.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import torch

from spikeopt.experiments.run import write_json

from _meta import run_meta  # noqa: E402 (benchmarks/ is on sys.path when run as a script)

HERE = Path(__file__).resolve().parent


def witnesses(in_features: int, seed: int = 0):
    from spikeopt.convex.witnesses import gaussian_witnesses
    from spikeopt.snn.config import ModelConfig

    return gaussian_witnesses(in_features, ModelConfig(subnetworks=64, width=32, depth=2), seed=seed)


def snntorch_spikes(net, x: torch.Tensor) -> np.ndarray:
    """Final-step last-layer spikes ``[N, K*m]`` via snnTorch Leaky layers, a loop over subnetworks and steps."""
    import snntorch as snn
    from torch import nn

    K, m, L = net.subnetworks, net.width, net.depth
    outs = []
    with torch.no_grad():
        for k in range(K):
            fcs, lifs = [], []
            for layer in range(L):
                w = net.weights[layer][k]  # [fan_in, m]
                fc = nn.Linear(w.shape[0], m)
                fc.weight.copy_(w.T)
                fc.bias.copy_(net.biases[layer][k])
                fcs.append(fc)
                lifs.append(snn.Leaky(beta=net.beta[layer, k].clone(), threshold=net.threshold[layer, k].clone(),
                                      reset_mechanism="subtract"))
            mems = [lif.init_leaky() for lif in lifs]
            for t in range(x.shape[0]):
                h = x[t]
                for layer in range(L):
                    h, mems[layer] = lifs[layer](fcs[layer](h), mems[layer])
            outs.append(h)
    return torch.cat(outs, dim=1).to(torch.uint8).numpy()


def ours(net, x):
    from spikeopt.convex.dictionary import build_dictionary

    return build_dictionary(net, x, "final")


def peer(net, x):
    from spikeopt.convex.dictionary import unique_columns

    raw = snntorch_spikes(net, x)
    keep, _ = unique_columns(raw)
    return raw, keep


def gemm_rate(net, steps: int, n: int, repeats: int = 3) -> tuple[float, float]:
    """FLOPs of the rollout's matmuls and the seconds ``torch`` takes for exactly those matmuls."""
    K, m, F = net.subnetworks, net.width, net.in_features
    rows = steps * n
    flops = 2.0 * rows * F * K * m + 2.0 * rows * K * m * m * (net.depth - 1)
    a0 = torch.rand(rows, F)
    w0 = torch.rand(F, K * m)
    a1 = torch.rand(K, rows, m)
    w1 = torch.rand(K, m, m)
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        a0 @ w0
        for _ in range(net.depth - 1):
            torch.bmm(a1, w1)
        times.append(time.perf_counter() - t)
    return flops, float(np.median(times))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=4000, help="first-last-XOR training samples")
    ap.add_argument("--steps", type=int, nargs="+", default=[8, 16])
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=1,
                    help="torch threads for both (default 1: robust on a shared machine; 0 = torch default)")
    ap.add_argument("--out", default=str(HERE / "results" / "dictionary.json"))
    args = ap.parse_args(argv)
    if args.threads > 0:
        torch.set_num_threads(args.threads)

    from spikeopt.tasks.first_last_xor import FirstLastXor
    from spikeopt.tasks.mnist_seq import MnistSeq

    cases = []
    for steps in args.steps:
        task = FirstLastXor(steps=steps, n_train=args.n, n_val=1, n_test=1)
        cases.append((f"xor-T{steps}-N{args.n}", task.splits(0)["train"].x, witnesses(task.in_features)))
    mn = MnistSeq(steps=8)
    cases.append(("mnist-seq-digits", mn.splits(0)["train"].x, witnesses(mn.in_features)))

    print(f"CPU-only, {torch.get_num_threads()} torch threads; timings noisy when the machine is loaded. "
          "speedup = snnTorch / ours (target >= 5)")
    print(f"{'instance':18s} {'T':>3s} {'N':>6s} {'ours_s':>8s} {'snntorch_s':>10s} {'speedup':>8s} "
          f"{'GFLOP/s':>8s} {'gemm GFLOP/s':>12s} {'of gemm':>7s} {'same':>5s} {'target':>6s}")
    rows = []
    for name, x, net in cases:
        ours(net, x)  # warm-up (first-call allocations)
        t_ours, t_peer = [], []
        same = True
        for _ in range(args.repeats):
            t = time.perf_counter()
            d = ours(net, x)
            t_ours.append(time.perf_counter() - t)
            t = time.perf_counter()
            raw, keep = peer(net, x)
            t_peer.append(time.perf_counter() - t)
            same = same and np.array_equal(raw[:, keep], d.atoms)
        flops, t_gemm = gemm_rate(net, x.shape[0], x.shape[1])
        to, tp = float(np.median(t_ours)), float(np.median(t_peer))
        row = {"instance": name, "steps": int(x.shape[0]), "samples": int(x.shape[1]), "ours_s": to,
               "snntorch_s": tp, "ours_runs_s": t_ours, "snntorch_runs_s": t_peer, "speedup": tp / to,
               "rollout_gflops": flops / to / 1e9, "gemm_gflops": flops / t_gemm / 1e9,
               "fraction_of_gemm": t_gemm / to, "same_spikes": bool(same), "target_met": tp / to >= 5}
        rows.append(row)
        print(f"{name:18s} {x.shape[0]:3d} {x.shape[1]:6d} {to:8.3f} {tp:10.3f} {tp / to:7.1f}x "
              f"{row['rollout_gflops']:8.2f} {row['gemm_gflops']:12.2f} {row['fraction_of_gemm']:6.0%} "
              f"{str(same):>5s} {'met' if row['target_met'] else 'MISSED':>6s}", flush=True)
    out = Path(args.out)
    meta = run_meta(torch_threads=torch.get_num_threads())
    write_json({"meta": meta, "rows": rows}, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
