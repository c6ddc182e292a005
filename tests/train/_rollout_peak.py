"""Child process of test_memory_rollout.py: peak memory growth of one blocked rollout beside its estimate.

    python3 _rollout_peak.py STEPS BATCH SUBNETWORKS WIDTH DEPTH READOUT GRAD(0/1)
"""

import json
import sys

import torch

from spikeopt.snn.network import ParallelLIFSNN


def status_bytes(field: str) -> int:
    """``VmRSS`` / ``VmHWM`` of this process (``ru_maxrss`` would carry the parent's peak over exec)."""
    with open("/proc/self/status") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise RuntimeError(f"no {field} in /proc/self/status")


def main() -> None:
    torch.set_num_threads(1)
    steps, batch, k, m, depth = map(int, sys.argv[1:6])
    readout, grad = sys.argv[6], sys.argv[7] == "1"
    net = ParallelLIFSNN(3, 2, subnetworks=k, width=m, depth=depth, readout=readout, seed=0)
    x = (torch.rand(steps, batch, 3, generator=torch.Generator().manual_seed(0)) < 0.3).float()
    try:  # reset the high-water mark to the current RSS (the imports' peak is not the rollout's)
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
    except OSError:
        pass
    base = status_bytes("VmRSS")
    if grad:
        out, _ = net(x)
        out.sum().backward()
    else:
        with torch.no_grad():
            net(x)
    print(json.dumps({"measured": status_bytes("VmHWM") - base, "estimate": net.rollout_bytes(steps, batch, grad)}))


if __name__ == "__main__":
    main()
