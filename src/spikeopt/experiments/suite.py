"""One suite of ``spikeopt reproduce``: the sweeps it needs, how it renders, which claims it decides."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from spikeopt.experiments.claims import Claim
from spikeopt.experiments.protocol import Protocol
from spikeopt.experiments.store import Store
from spikeopt.experiments.sweep import SweepSpec


def no_claims(p: Protocol, store: Store) -> list[Claim]:
    return []


@dataclass(frozen=True)
class Suite:
    """``specs(protocol)`` lists the runs; ``render(protocol, store, folder)`` is the section's Markdown (plots
    go into ``folder``); ``claims(protocol, store)`` the paper claims its runs decide; ``title`` heads the
    section and ``notes`` (e.g. what the paper's text lost) follow it."""

    name: str
    title: str
    specs: Callable[[Protocol], list[SweepSpec]]
    render: Callable[[Protocol, Store, Path], str]
    claims: Callable[[Protocol, Store], list[Claim]] = no_claims
    notes: tuple[str, ...] = field(default_factory=tuple)
