"""
Catalogue
=========

Every proof system in a fixed order and the one entry point the front end calls:
:func:`prove` takes claim names (or none: all of them) and returns one
:class:`~arspec.proofs.core.ProofResult` per claim, in catalogue order. Nothing here
prints; :func:`check_twins` runs every twin and replays its counterexample.

The claims prove parts of the invariants of the spec's catalogue
(:data:`arspec.spec.catalogue.CATALOGUE`, whose entries name their claims): a name given to
:func:`select_claims` may be such an invariant, and :func:`get_claim_invariant` goes the
other way. Claims outside it (the determinism of a slot's writes, the edge rule of
watchers) are theorems of the spec the explorer has no check for.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from arspec.checker.solver import SolverConfig
from arspec.checker.verdict import Verdict
from arspec.spec.catalogue import CATALOGUE
from arspec.spec.errors import InputError

from . import budget, determinism, ringbuf, tailcall, timers, watchers, workqueue
from .core import Claim, ProofResult, Replay, System, Twin, prove_claim, prove_twin, replay_twin

#: Every system, in the order the report lists its claims.
SYSTEMS: Final[tuple[System, ...]] = (
    ringbuf.SYSTEM, timers.SYSTEM, workqueue.SYSTEM, budget.SYSTEM, tailcall.SYSTEM,
    *watchers.SYSTEMS, determinism.SYSTEM)


def get_claims() -> list[tuple[System, Claim]]:
    """Return every claim with its system, in catalogue order."""
    return [(system, claim) for system in SYSTEMS for claim in system.claims]


def get_twins(claim: str) -> list[tuple[System, Twin]]:
    """Return the twins of ``claim``."""
    return [(s, t) for s in SYSTEMS for t in s.twins if t.claim == claim]


def get_claim_invariant(claim: str) -> str | None:
    """Return the catalogue invariant ``claim`` proves a part of, or ``None``."""
    for invariant in CATALOGUE.values():
        if claim in invariant.proofs:
            return invariant.name
    return None


def select_claims(names: Sequence[str]) -> list[tuple[System, Claim]]:
    """Return the claims called ``names`` (all when empty), in catalogue order.

    A name may also be a system's name (``ringbuf``), a claim's prefix before the dot, or an
    invariant of the spec's catalogue (``ringbuf_fifo``: the claims it lists).
    :raises InputError: for a name that matches nothing, listing the choices.
    """
    claims = get_claims()
    if not names:
        return claims
    wanted = set()
    for name in names:
        found = {c.name for s, c in claims
                 if name in (c.name, s.name, c.name.split(".", 1)[0])
                 or c.name in (CATALOGUE[name].proofs if name in CATALOGUE else ())}
        if not found:
            choices = ", ".join(c.name for _, c in claims)
            raise InputError(f"unknown invariant {name!r}; choose from: {choices}")
        wanted |= found
    return [(s, c) for s, c in claims if c.name in wanted]


def prove(names: Sequence[str] = (), *, config: SolverConfig | None = None) -> list[ProofResult]:
    """Prove the named claims (all when ``names`` is empty), in catalogue order."""
    return [prove_claim(system, claim, config=config)
            for system, claim in select_claims(names)]


@dataclass(frozen=True)
class TwinResult:
    """A twin's proof attempt and, when it was refuted, the replay on the mutated spec."""

    twin: Twin
    result: ProofResult
    replay: Replay | None

    @property
    def confirmed(self) -> bool:
        """Return whether the twin failed as it must: refuted, replayed, spec not at fault."""
        return (self.result.verdict is Verdict.REFUTED and self.replay is not None
                and self.replay.violated and self.replay.spec_holds)


def check_twin(system: System, twin: Twin, *,
               config: SolverConfig | None = None) -> TwinResult:
    """Refute the twin's claim under its broken transition and replay the counterexample."""
    result = prove_twin(system, twin, config=config)
    replay = None
    if result.verdict is Verdict.REFUTED and result.counterexample is not None \
            and result.counterexample.obligation != "initial":
        replay = replay_twin(system, twin, result.counterexample, config=config)
    return TwinResult(twin, result, replay)


def check_twins(*, config: SolverConfig | None = None) -> list[TwinResult]:
    """Check every twin of every system."""
    return [check_twin(s, t, config=config) for s in SYSTEMS for t in s.twins]
