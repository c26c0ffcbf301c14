"""
A bundle's runtime system
=========================

The runtime system (:class:`~arspec.model.runtime_system.RuntimeSystem`) of a loaded bundle
on the reference VM, with the checks the bundle asks for, and the checks' report order.
Shared by the explorer's front (:mod:`arspec.model.explore_bundle`) and its Ray workers
(:mod:`arspec.model.distributed`).
"""

from __future__ import annotations

from pathlib import Path

from arspec.model.runtime_system import (
    REPLICA_INVARIANT,
    STEP_INVARIANT,
    CachingInvoker,
    CheckSet,
    RuntimeSystem,
)
from arspec.spec import bundle as schema
from arspec.spec.catalogue import CATALOGUE, compile_user_invariant, get_requested_invariants


def get_bundle_invariants(bundle: schema.Bundle) -> list[str]:
    """Return the catalogue names a bundle asks for (every one by default), liveness too."""
    explore_props = bundle.properties.explore
    return get_requested_invariants([inv.value for inv in explore_props.invariants]
                                    if explore_props is not None else None)


def compile_checks(bundle: schema.Bundle) -> CheckSet:
    """Return the state and step checks a bundle asks for (liveness is checked apart)."""
    user = tuple(compile_user_invariant(bundle, inv.name, inv.expr)
                 for inv in bundle.properties.invariants)
    names = tuple(n for n in get_bundle_invariants(bundle) if not CATALOGUE[n].liveness)
    return CheckSet(names, user, replica=True)


def build_system(bundle: schema.Bundle, path: str, slots: int, checks: CheckSet, *,
                 cache: bool) -> RuntimeSystem:
    """Return the runtime system of ``bundle`` on the reference VM."""
    from arspec.reference.runtime.runtime import ReferenceInvoker

    inner = ReferenceInvoker(bundle, base_dir=Path(path).parent)
    invoker = CachingInvoker(inner, enabled=cache,
                             include_seq=bundle.profile != schema.Profile.SOLANA)
    return RuntimeSystem(bundle, invoker, slots=slots, checks=checks)


def get_check_names(system: RuntimeSystem) -> list[str]:
    """Return every check name in report order."""
    names = list(system.checks.catalogue) + [u.name for u in system.checks.user]
    if system.checks.replica:
        names.append(REPLICA_INVARIANT)
    return [*names, STEP_INVARIANT]
