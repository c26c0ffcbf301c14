"""
Runtime-level vectors
=====================

One vector per (bundle, slot): the bundle's YAML text (programs as assembly or hex inside
it), the slot, the state at its start; expected are the slot's events in order and the state
at its end. The bundle is run on the reference runtime from slot 0 (the spec's scheduler,
:func:`~arspec.spec.scheduler.process_slot`, decides what runs; the
:class:`~arspec.reference.runtime.runtime.ReferenceInvoker` runs it).

The state is plain JSON (:func:`plain_state`): maps by name with their elements as key/value
hex (per CPU), timers and work queues with their fields, the FIFO of work items, ring buffers
as their positions and the live bytes between the consumer and the furthest reservation,
program arrays, accounts as hex, the watchers' edge state (declared and run-time) and the
slot's compute units.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Final

from arspec.cli.vectors.common import SpecCalls, to_plain
from arspec.reference.runtime.runtime import ReferenceInvoker
from arspec.spec.loader import load_bundle_text
from arspec.spec.ringbuf import RingBuffer
from arspec.spec.scheduler import create_initial_state, process_slot
from arspec.spec.state import RuntimeState

#: Most slots of one bundle turned into vectors (the scenario's length when it is shorter).
MAX_SLOTS: Final = 32
#: The folder a bundle's relative paths resolve against: none exists, so a bundle that
#: needs another file (an ELF object) is not self-contained and gives no vector.
NO_FILES: Final = Path("/nonexistent/arspec-vectors")


def plain_ring(ring: RingBuffer) -> dict[str, Any]:
    """Return a ring's positions and its live bytes (consumer up to the furthest position)."""
    end = max(ring.producer_pos, ring.pending_pos)
    live = bytes(ring.data[(pos % ring.size)] for pos in range(ring.consumer_pos, end))
    return {"size": ring.size, "consumer_pos": ring.consumer_pos,
            "producer_pos": ring.producer_pos, "pending_pos": ring.pending_pos,
            "live": live.hex()}


def plain_state(state: RuntimeState) -> dict[str, Any]:
    """Return ``state`` as plain JSON data (see the module text); the preset is its name."""
    plain: dict[str, Any] = to_plain(state)
    plain["preset"] = state.preset.name
    for entry in plain["maps"]:
        ring = state.maps[entry["key"]].ringbuf
        if ring is not None:
            entry["value"]["ringbuf"] = plain_ring(ring)
    return plain


def run_slots(text: str, filename: str, slots: int | None = None) -> list[dict[str, Any]]:
    """Run the bundle ``text`` slot by slot; return per slot its plain state before, its
    events, the state after and the spec functions it called.

    ``slots`` defaults to the scenario's length, at most :data:`MAX_SLOTS`.
    """
    bundle = load_bundle_text(text, filename=filename, base_dir=NO_FILES)
    # The interpreter: the fast path compiles once per process, so what it calls in the spec
    # would depend on what ran before.
    invoker = ReferenceInvoker(bundle, base_dir=NO_FILES, engine="interpreter")
    state = create_initial_state(bundle)
    count = min(bundle.scenario.slots, MAX_SLOTS) if slots is None else slots
    out = []
    for _ in range(count):
        slot = int(state.slot)
        before = plain_state(state)
        with SpecCalls() as calls:
            events = process_slot(state, bundle, invoker)
        out.append({"slot": slot, "profile": bundle.profile.value, "state_before": before,
                    "events": to_plain(events), "state_after": plain_state(state),
                    "exercises": calls.names})
    return out


def bundle_vectors(path: Path, root: Path) -> list[tuple[str, dict[str, Any], dict[str, Any],
                                                         list[str]]]:
    """Return ``(id, input, expected, exercises)`` for every slot of the bundle at ``path``."""
    text = path.read_text(encoding="utf-8")
    name = path.relative_to(root).as_posix()
    out = []
    for run in run_slots(text, name):
        inputs = {"bundle_name": name, "profile": run["profile"], "bundle": text,
                  "slot": run["slot"],
                  "state_before": run["state_before"]}
        expected = {"events": run["events"], "state_after": run["state_after"]}
        out.append((f"{name.removesuffix('.yaml')}/slot-{run['slot']}", inputs, expected,
                    run["exercises"]))
    return out
