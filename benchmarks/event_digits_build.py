"""How long the built-in event-digits data set takes to build (cold) and to load from its cache.

    python benchmarks/event_digits_build.py
"""

from __future__ import annotations

import sys
import tempfile
import time

from spikeopt.tasks.events.simulate import load_event_digits


def main() -> int:
    with tempfile.TemporaryDirectory() as cache:
        t0 = time.perf_counter()
        samples = load_event_digits(cache_dir=cache)
        cold = time.perf_counter() - t0
        t0 = time.perf_counter()
        load_event_digits(cache_dir=cache)
        warm = time.perf_counter() - t0
    n_events = len(samples.events) if hasattr(samples, "events") else "?"
    print(f"event-digits: {len(samples.labels)} samples, {n_events} events; "
          f"cold build {cold:.2f} s, cached load {warm:.3f} s")
    return 0


if __name__ == "__main__":
    sys.exit(main())
