"""What every benchmark records about the machine it ran on (imported by the benchmark scripts)."""

from __future__ import annotations

import os
import platform
import sys
from typing import Any


def run_meta(**extra: Any) -> dict[str, Any]:
    """Command, machine, cores and the load average measured now, so a reader can judge the noise."""
    return {
        "argv": sys.argv[1:], "machine": platform.platform(), "cpus": os.cpu_count(),
        "load_average_1min": os.getloadavg()[0],
        "note": "ratios are taken side by side in one run; absolute seconds depend on machine load",
        **extra,
    }
