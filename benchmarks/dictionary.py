"""Dictionary-building benchmark: ``build_dictionary`` against the same witnesses in snnTorch.

    python benchmarks/dictionary.py                          # T = 32, N = 1k, 4k, 16k
    python benchmarks/dictionary.py --n 64000 --repeats 1    # the largest N of the issue

Witnesses: 64 subnetworks x 32 neurons, depth 2 (Gaussian), first-last-XOR inputs (no repeated
sequences at T = 32, so every sample is rolled). The peer is what a user would write: for every
subnetwork, ``nn.Linear`` + ``snn.Leaky(beta, threshold, reset_mechanism="subtract")`` layers with
the witness weights copied in, rolled over the steps in a Python loop under ``torch.no_grad()``,
then the same column de-duplication. Both must give the same dictionary (checked by hash).

Every measurement is a fresh child process (ours and the peer alternate, ``--repeats`` times;
medians), which reports wall and CPU time and its peak-RSS growth over the set-up (the build's own
memory: the raw dictionary of ``N x 2,048`` bytes plus the rollout's working memory).

The arithmetic-rate columns: the rollout's matmul FLOPs (layer 0 ``[T N, F] x [F, K m]``, later
layers ``K`` matmuls ``[T N, m] x [m, m]``) divided by our time, against (a) this CPU's
single-thread sgemm rate on a large square product (``--gemm-size``, measured in this run) and
(b) the rate of exactly those matmul shapes alone. Target: >= 5x the snnTorch loop at every N.

``ms/smp`` columns: CPU milliseconds per sample of each code. Ours rolls fixed blocks of 128
samples (``convex.dictionary.roll``), so its cost per sample is flat in N. The snnTorch loop's
per-step tensors are ``[N, 32]``: its fixed per-call overhead (64 subnetworks x 32 steps x 2 layers
x ~8 calls) is spread over more samples as N grows, and once the tensors leave the cache its cost
per sample depends on the memory traffic of whatever else runs -- the speedup moves with N because
the peer's cost per sample does (2.3 / 1.5 / 1.9 / 1.9 ms at 1k / 4k / 16k / 64k in one run,
3.5 / 2.5 / 1.7 ms at 1k / 4k / 16k in another, ours 0.40-0.53 in both).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from _meta import run_meta  # noqa: E402 (benchmarks/ is on sys.path when run as a script)

HERE = Path(__file__).resolve().parent
K, M, DEPTH = 64, 32, 2


def witnesses(in_features: int, seed: int = 0):
    from spikeopt.convex.witnesses import gaussian_witnesses
    from spikeopt.snn.config import ModelConfig

    return gaussian_witnesses(in_features, ModelConfig(subnetworks=K, width=M, depth=DEPTH), seed=seed)


def snntorch_spikes(net, x):
    """Final-step last-layer spikes ``[N, K*m]`` via snnTorch Leaky layers, a loop over subnetworks and steps."""
    import snntorch as snn
    import torch
    from torch import nn

    outs = []
    with torch.no_grad():
        for k in range(net.subnetworks):
            fcs, lifs = [], []
            for layer in range(net.depth):
                w = net.weights[layer][k]  # [fan_in, m]
                fc = nn.Linear(w.shape[0], net.width).to(x.device)
                fc.weight.copy_(w.T)
                fc.bias.copy_(net.biases[layer][k])
                fcs.append(fc)
                lifs.append(snn.Leaky(beta=net.beta[layer, k].clone(), threshold=net.threshold[layer, k].clone(),
                                      reset_mechanism="subtract").to(x.device))
            mems = [lif.init_leaky() for lif in lifs]
            for t in range(x.shape[0]):
                h = x[t]
                for layer in range(net.depth):
                    h, mems[layer] = lifs[layer](fcs[layer](h), mems[layer])
            outs.append(h)
    return torch.cat(outs, dim=1).to(torch.uint8).cpu().numpy()


def _data(steps: int, n: int):
    from spikeopt.tasks.first_last_xor import FirstLastXor

    task = FirstLastXor(steps=steps, n_train=n, n_val=1, n_test=1)
    return task.splits(0)["train"].x, witnesses(task.in_features)


def _child(kind: str, steps: int, n: int) -> dict:
    import torch

    torch.set_num_threads(1)
    from spikeopt.convex.dictionary import build_dictionary, unique_columns

    x, net = _data(steps, n)
    base = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    wall, cpu = time.perf_counter(), time.process_time()
    if kind == "ours":
        atoms = build_dictionary(net, x, "final").atoms
    else:
        raw = snntorch_spikes(net, x)
        keep, _ = unique_columns(raw)
        atoms = np.ascontiguousarray(raw[:, keep])
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"wall_s": wall, "cpu_s": cpu, "peak_rss_growth_mib": (peak - base) / 1024.0,
            "atoms": int(atoms.shape[1]), "hash": hashlib.sha1(atoms.tobytes()).hexdigest()}


def run_child(kind: str, steps: int, n: int) -> dict:
    cmd = [sys.executable, __file__, "--child", kind, str(steps), str(n)]
    env = {**os.environ, "OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}
    out = subprocess.run(cmd, capture_output=True, text=True, check=True, env=env)
    return json.loads(out.stdout.strip().splitlines()[-1])


def rates(steps: int, n: int, in_features: int, gemm_size: int, repeats: int = 3) -> dict:
    """FLOPs of the rollout's matmuls, the seconds those matmul shapes alone take, the large-sgemm rate."""
    import torch

    torch.set_num_threads(1)
    rows = steps * n
    flops = 2.0 * rows * in_features * K * M + 2.0 * rows * K * M * M * (DEPTH - 1)
    block = 4096  # the same shapes in row blocks (as the rollout runs them), not one huge allocation
    a0, w0 = torch.rand(block, in_features), torch.rand(in_features, K * M)
    a1, w1 = (torch.rand(K, block, M) < 0.3).float(), torch.rand(K, M, M)
    o0, o1 = torch.empty(block, K * M), torch.empty(K, block, M)
    shape_times, big_times = [], []
    big_a, big_b = torch.rand(gemm_size, gemm_size), torch.rand(gemm_size, gemm_size)
    for _ in range(repeats):
        t = time.process_time()
        for _ in range(max(1, rows // block)):
            torch.mm(a0, w0, out=o0)
            for _ in range(DEPTH - 1):
                torch.bmm(a1, w1, out=o1)
        shape_times.append(time.process_time() - t)
        t = time.process_time()
        big_a @ big_b
        big_times.append(time.process_time() - t)
    return {"flops": flops, "same_shapes_s": float(np.median(shape_times)),
            "sgemm_gflops": 2.0 * gemm_size**3 / float(np.median(big_times)) / 1e9}


def main(argv=None) -> int:
    if argv is None and len(sys.argv) > 1 and sys.argv[1] == "--child":
        print(json.dumps(_child(sys.argv[2], int(sys.argv[3]), int(sys.argv[4]))))
        return 0
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, nargs="+", default=[1000, 4000, 16000])
    ap.add_argument("--steps", type=int, default=32)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--gemm-size", type=int, default=1024)
    ap.add_argument("--out", default=str(HERE / "results" / "dictionary.json"))
    args = ap.parse_args(argv)
    meta = run_meta(torch_threads=1, load_average_start=os.getloadavg()[0],
                    witnesses={"subnetworks": K, "width": M, "depth": DEPTH})
    print(f"CPU-only, 1 torch thread, load average {os.getloadavg()[0]:.2f}; times are CPU seconds (wall beside); "
          "speedup = snnTorch / ours (target >= 5)")
    print(f"{'T':>3s} {'N':>6s} {'ours_cpu':>8s} {'ours_wall':>9s} {'snnt_cpu':>8s} {'snnt_wall':>9s} {'speedup':>7s} "
          f"{'ours_ms/smp':>11s} {'snnt_ms/smp':>11s} {'GFLOP/s':>7s} {'sgemm':>6s} {'of_sgemm':>8s} {'of_shapes':>9s} {'ours_MiB':>8s} {'snnt_MiB':>8s} "
          f"{'same':>5s} {'target':>6s}")
    rows = []
    for n in args.n:
        res: dict[str, list[dict]] = {"ours": [], "snntorch": []}
        for _ in range(args.repeats):
            for kind in res:
                res[kind].append(run_child(kind, args.steps, n))
        med = {k: {key: float(np.median([r[key] for r in v])) for key in ("wall_s", "cpu_s", "peak_rss_growth_mib")}
               for k, v in res.items()}
        same = len({r["hash"] for v in res.values() for r in v}) == 1
        rate = rates(args.steps, n, 1, args.gemm_size)
        to, tp = med["ours"]["cpu_s"], med["snntorch"]["cpu_s"]
        gflops = rate["flops"] / to / 1e9
        row = {"steps": args.steps, "samples": n, "median": med, "runs": res, "speedup_cpu": tp / to,
               "speedup_wall": med["snntorch"]["wall_s"] / med["ours"]["wall_s"], "rollout_gflops": gflops,
               "cpu_ms_per_sample": {"ours": 1e3 * to / n, "snntorch": 1e3 * tp / n},
               "sgemm_gflops": rate["sgemm_gflops"], "fraction_of_sgemm": gflops / rate["sgemm_gflops"],
               "fraction_of_same_shapes": rate["same_shapes_s"] / to, "same_dictionary": same,
               "target_met": tp / to >= 5}
        rows.append(row)
        print(f"{args.steps:3d} {n:6d} {to:8.2f} {med['ours']['wall_s']:9.2f} {tp:8.2f} "
              f"{med['snntorch']['wall_s']:9.2f} {tp / to:6.1f}x {1e3 * to / n:11.3f} {1e3 * tp / n:11.3f} {gflops:7.2f} {rate['sgemm_gflops']:6.1f} "
              f"{row['fraction_of_sgemm']:8.1%} {row['fraction_of_same_shapes']:9.1%} "
              f"{med['ours']['peak_rss_growth_mib']:8.0f} {med['snntorch']['peak_rss_growth_mib']:8.0f} "
              f"{str(same):>5s} {'met' if row['target_met'] else 'MISSED':>6s}", flush=True)
    meta["load_average_end"] = os.getloadavg()[0]
    out = Path(args.out)
    from spikeopt.experiments.run import write_json

    write_json({"meta": meta, "rows": rows}, out)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
