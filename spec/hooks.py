"""
Hooks
=====

What makes a program run without an outside trigger: ``startup``, ``every`` N slots, and
account ``watch``\\ ers (timers, work queues and ring buffers are in their own modules; the
scheduler turns all of them into work items).

Startup and every-N
-------------------
* ``startup`` programs run once, in slot 0.
* ``every: N`` programs run in every slot with ``slot % N == 0``, **slot 0 included** (slot 0
  is a multiple of every N, and a periodic job that starts with the runtime needs no
  separate startup hook).

Watchers
--------
A watcher reads a little-endian integer from an account (a named field, or ``offset`` +
``type``; signedness from the type) and compares it:

* ``eq ne lt le gt ge`` against ``value``: **edge-triggered**, the watcher fires on a
  false -> true transition of the comparison; a condition that stays true does not fire
  again, and must become false before it can fire again;
* ``changed``: fires on every observation whose value differs from the previous
  observation;
* ``change_bps``: fires when ``new != ref`` and ``|new - ref| * 10000 >= bps * |ref|``, where
  ``ref`` is the value at the watcher's last firing (initially its baseline). Measuring
  against the last firing, not the previous observation, is the bundle schema's "moved by at
  least bps since the last firing": a slow drift still fires once it adds up. With
  ``ref = 0`` any change fires (every move away from zero is an unbounded relative change);
  a zero change never fires.

Choices where Linux and Solana are silent:

* **Baseline.** Each watcher's baseline is the initial account data; a condition that is
  already true at creation does not fire (no transition was observed).
* **Sampling.** Watchers observe once per slot, in the scheduler's enqueue step, after all of
  the slot's environment writes. A slot is the unit of observation, like a block's final
  account state: writes within one slot that cancel out are not seen.
* **Cascades.** A program's own writes happen after the slot's observation, so they are
  seen at the **next** slot's observation, never in the same slot: a watcher that writes
  its own account fires at most once per slot. Every watcher-triggered item carries a
  cascade depth: one more than the smallest depth of the writers of the account since the
  last observation, where the environment and every invocation that was not triggered by a
  watcher count as depth 0 (so environment writes start cascades at depth 1).
* **Too deep.** A trigger whose depth exceeds :func:`get_max_cascade_depth` is
  **suppressed and reported**: the invocation does not run, the scheduler emits a
  ``suppressed`` event, and the watcher's edge state still advances (so it does not fire
  again until a new transition). Running it would let two watchers ping-pong forever at one
  invocation per slot; suppressing it bounds every cascade and says so.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Final

from arspec.spec import bundle as schema
from arspec.spec.accounts import AccountsState
from arspec.spec.presets import Preset
from arspec.spec.types import AccountName, ProgId, Slot

#: Largest watcher cascade depth that still runs, by preset name. Environment writes start
#: cascades at depth 1, so ``minimal`` allows a watcher and one watcher it triggers.
MAX_CASCADE_DEPTH: Final[dict[str, int]] = {"minimal": 2, "linux_like": 8}
#: Basis points in one whole (100 %).
BPS_SCALE: Final = 10_000


@dataclass(frozen=True)
class WatchSpec:
    """Where a watcher reads and how it compares (resolved from the bundle's hook)."""

    account: AccountName
    offset: int
    width: int
    signed: bool
    op: schema.WatchOp
    value: int | None
    bps: int | None


@dataclass
class WatcherState:
    """The edge state of one watcher program.

    ``last_value`` is the value seen at the previous observation; ``condition`` whether the
    comparison held then; ``reference`` the value ``change_bps`` measures against (the value
    at the last firing, initially the value at creation).
    """

    last_value: int
    condition: bool
    reference: int


def get_max_cascade_depth(preset: Preset) -> int:
    """Return the deepest watcher cascade the preset lets run."""
    return MAX_CASCADE_DEPTH[preset.name]


def is_startup_due(slot: Slot, startup_done: bool) -> bool:
    """Return whether startup programs run now: slot 0, once."""
    return slot == 0 and not startup_done


def is_every_due(slot: Slot, period: int) -> bool:
    """Return whether an ``every: period`` program runs in ``slot`` (slot 0 included)."""
    return slot % period == 0


def get_watch_spec(bundle: schema.Bundle, hook: schema.WatchHook) -> WatchSpec:
    """Return the resolved read position and comparison of a watch hook."""
    if hook.field is not None:
        fspec = bundle.accounts[hook.account].fields[hook.field]
        offset, kind = fspec.offset, fspec.type
    else:
        # Verify an unnamed watch carries its position and type (the schema requires both)
        assert hook.offset is not None and hook.type is not None
        offset, kind = hook.offset, hook.type
    return WatchSpec(
        account=AccountName(hook.account),
        offset=offset,
        width=schema.field_width(kind),
        signed=kind.value.startswith("i"),
        op=hook.op,
        value=hook.value,
        bps=hook.bps,
    )


def get_watched_value(accounts: AccountsState, spec: WatchSpec) -> int:
    """Return the watched integer as it is now."""
    data = accounts.accounts[spec.account].data
    raw = bytes(data[spec.offset : spec.offset + spec.width])
    return int.from_bytes(raw, "little", signed=spec.signed)


def is_condition_true(spec: WatchSpec, value: int) -> bool:
    """Return whether a comparison watcher's condition holds for ``value``."""
    # Verify a comparison watcher has a threshold
    assert spec.value is not None
    threshold = spec.value
    op = spec.op
    if op == schema.WatchOp.EQ:
        return value == threshold
    if op == schema.WatchOp.NE:
        return value != threshold
    if op == schema.WatchOp.LT:
        return value < threshold
    if op == schema.WatchOp.LE:
        return value <= threshold
    if op == schema.WatchOp.GT:
        return value > threshold
    return value >= threshold


def is_bps_change(reference: int, new: int, bps: int) -> bool:
    """Return whether ``new`` moved at least ``bps`` basis points away from ``reference``."""
    if new == reference:
        return False
    return abs(new - reference) * BPS_SCALE >= bps * abs(reference)


def create_watcher_state(spec: WatchSpec, accounts: AccountsState) -> WatcherState:
    """Return a watcher's baseline from the current account data."""
    value = get_watched_value(accounts, spec)
    condition = is_condition_true(spec, value) if spec.op in schema.COMPARISONS else False
    return WatcherState(last_value=value, condition=condition, reference=value)


def process_watcher_observation(spec: WatchSpec, state: WatcherState, value: int) -> bool:
    """Record one observation of ``value``; return whether the watcher fires."""
    if spec.op in schema.COMPARISONS:
        condition = is_condition_true(spec, value)
        fires = condition and not state.condition
        state.condition = condition
    elif spec.op == schema.WatchOp.CHANGED:
        fires = value != state.last_value
    else:
        # Verify a change_bps watcher has its threshold
        assert spec.bps is not None
        fires = is_bps_change(state.reference, value, spec.bps)
        if fires:
            state.reference = value
    state.last_value = value
    return fires


def compute_trigger_depth(writer_depth: Mapping[AccountName, int], account: AccountName) -> int:
    """Return the cascade depth of a trigger on ``account``: its shallowest writer + 1."""
    return writer_depth.get(account, 0) + 1


def get_watch_specs(bundle: schema.Bundle) -> dict[ProgId, WatchSpec]:
    """Return the watch spec of every watcher program, in program declaration order."""
    return {
        ProgId(name): get_watch_spec(bundle, prog.hook)
        for name, prog in bundle.programs.items()
        if isinstance(prog.hook, schema.WatchHook)
    }


def create_watcher_states(bundle: schema.Bundle,
                          accounts: AccountsState) -> dict[ProgId, WatcherState]:
    """Return every watcher's baseline from the initial account data."""
    return {name: create_watcher_state(spec, accounts)
            for name, spec in get_watch_specs(bundle).items()}
