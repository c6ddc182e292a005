"""Markdown table of ``solver.py`` results (the README's solver rows), from the JSON files it wrote.

    python benchmarks/solver_table.py benchmarks/results/solver_speed_*.json

One row per problem: our CPU seconds, each peer's (``>60`` killed at the CPU limit, ``skip`` not run
after a timeout at a larger reg, ``n/a`` the peer lacks this objective), the speedup against the
fastest peer (``>`` when every peer timed out: a lower bound), our passes and time/pass, and the
load average of the run.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

PEERS = ("sklearn", "skglm", "cvxpy")


def _peer(rec: dict) -> str:
    st = rec.get("status", "")
    if st == "ok":
        return f"{rec['time_s']:.1f}"
    if st == "timeout":
        return f">{rec['time_s']:.0f}"
    if st.startswith("skipped"):
        return "skip"
    return "n/a" if st == "n/a" else st[:12]


def main(paths: list[str]) -> int:
    print("| instance | loss | reg | ours CPU-s | gap | " + " | ".join(PEERS)
          + " | speedup | 10x | passes | time/pass | load |")
    print("|" + "---|" * (10 + len(PEERS)))
    for path in paths:
        data = json.loads(Path(path).read_text())
        load = data["meta"].get("load_average_1min", float("nan"))
        for r in data["problems"]:
            sp = r["speedup"]
            sp_txt = "-" if sp is None else (">" if r["speedup_is_lower_bound"] else "") + f"{sp:.1f}x"
            met = "n/a" if r["target_met"] is None else ("met" if r["target_met"] else "missed")
            if r["speedup_is_lower_bound"] and r["target_met"] is False:
                met = "missed (bound)"
            peers = " | ".join(_peer(r["peers"][p]) if p in r["peers"] else "-" for p in PEERS)
            print(f"| {r['instance']} | {r['loss']} | {r['reg']:.0e} | {r['ours_s']:.2f} | {r['gap']:.1e} | {peers} | "
                  f"{sp_txt} | {met} | {r['passes']:.0f} | {r['time_over_pass']:.0f} | {load:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
