"""A live view of a sweep: done, running, failed and the time left (a tqdm bar on stderr)."""

from __future__ import annotations

import sys
import time


class Progress:
    """Counts runs and estimates the time left from the mean time of the runs finished so far.

    The estimate divides the remaining work by ``workers`` because that many runs go in parallel.
    """

    def __init__(self, total: int, skipped: int = 0, workers: int = 1, enabled: bool = True) -> None:
        if total < 0 or not 0 <= skipped <= total:
            raise ValueError(f"progress needs 0 <= skipped <= total, got skipped={skipped}, total={total}")
        self.total, self.skipped, self.workers = total, skipped, max(1, workers)
        self.done = self.failed = self.running = 0
        self._seconds = 0.0
        self._t0 = time.perf_counter()
        self._bar = None
        if enabled:
            from tqdm.auto import tqdm  # here: only a shown bar needs it

            self._bar = tqdm(total=total, initial=skipped, desc="runs", unit="run", file=sys.stderr,
                             dynamic_ncols=True, bar_format="{l_bar}{bar}| {n_fmt}/{total_fmt} [{elapsed}] {postfix}")
            self._refresh()

    @property
    def remaining(self) -> int:
        return self.total - self.skipped - self.done - self.failed

    def eta_seconds(self) -> float | None:
        """Seconds left, or None before the first run finished."""
        finished = self.done + self.failed
        if finished == 0:
            return None
        return self.remaining * (self._seconds / finished) / self.workers

    def started(self) -> None:
        self.running += 1
        self._refresh()

    def finished(self, ok: bool, seconds: float) -> None:
        self.running = max(0, self.running - 1)
        self._seconds += seconds
        if ok:
            self.done += 1
        else:
            self.failed += 1
        if self._bar is not None:
            self._bar.update(1)
        self._refresh()

    def summary(self) -> str:
        eta = self.eta_seconds()
        left = "?" if eta is None else f"{eta / 60:.1f} min"
        return (f"done {self.done + self.skipped} (skipped {self.skipped}) running {self.running} "
                f"failed {self.failed} left {self.remaining} ~{left}")

    def _refresh(self) -> None:
        if self._bar is not None:
            self._bar.set_postfix_str(self.summary(), refresh=True)

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
            self._bar = None
