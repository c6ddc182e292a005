"""How much memory is free where tensors will live: one reader for every up-front memory check."""

from __future__ import annotations

import torch


def available_bytes(device: torch.device | str | None = None, unknown: int = 1 << 62) -> int:
    """Free memory on ``device``: the GPU's free memory, else Linux's ``MemAvailable``; ``unknown`` otherwise."""
    device = torch.device(device) if device is not None else torch.device("cpu")
    if device.type == "cuda" and torch.cuda.is_available():
        free, _ = torch.cuda.mem_get_info(device)
        return int(free)
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return unknown
