"""
Watchers registered at run time
===============================

``sol_watch_account`` lets a running program subscribe a callback to an account field with
the same predicates a bundle's declared ``watch`` hook has (:mod:`arspec.spec.hooks`), and
get a watcher id back; ``sol_unwatch_account`` removes it. Linux has no counterpart (its
closest relatives, ``bpf_timer`` callbacks, are set the same way: a code address).

Criteria: ``struct sol_watch_criteria`` (24 bytes, little-endian)
-----------------------------------------------------------------

======  =====  =============  ===============================================================
offset  size   field          meaning
======  =====  =============  ===============================================================
0       4      ``account``    index of a declared account (bundle declaration order, as
                              ``arspec_account_read``)
4       4      ``offset``     byte offset of the field in the account
8       1      ``op``         0 eq, 1 ne, 2 lt, 3 le, 4 gt, 5 ge, 6 changed, 7 change_bps
9       1      ``width``      1, 2, 4 or 8 bytes
10      1      ``is_signed``  0 unsigned, 1 signed (two's complement)
11      1      ``reserved``   must be 0
12      4      ``bps``        basis points for ``change_bps`` (1..10000); 0 for other ops
16      8      ``value``      threshold for eq..ge (read as signed when ``is_signed``); 0 for
                              ``changed`` and ``change_bps``
======  =====  =============  ===============================================================

The call is ``sol_watch_account(criteria, size, callback, flags)``: ``size`` must be
:data:`WATCH_CRITERIA_SIZE`, ``flags`` 0, ``callback`` a code address (as
``bpf_timer_set_callback`` takes: a function of the calling program, or pc ``p`` of the
bundle's ``k``-th program at ``(0x100 + k) << 32 | 8 * p``). The callback is entered like a
``watch`` hook (r1 = the empty input, r2 = 0) and returns a number in r0. The result is the
watcher id (1, 2, ...; never reused) or a negative errno:

* ``-EINVAL``: ``size`` is not 24, ``flags`` is not 0, an unknown ``op``, a ``width`` not in
  1/2/4/8, ``is_signed`` not 0/1, ``reserved`` not 0, ``bps`` out of range for
  ``change_bps`` (or not 0 for other ops), a nonzero ``value`` for ``changed`` /
  ``change_bps``, or ``offset + width`` past the account's end;
* ``-ENOENT``: ``account`` is not a declared account;
* ``-E2BIG``: the program already owns :data:`MAX_WATCHERS_PER_PROGRAM` run-time watchers, or
  the account already has :data:`MAX_WATCHERS_PER_ACCOUNT` (declared ``watch`` hooks do not
  count: they are fixed at load).

``sol_unwatch_account(id)`` returns 0, or ``-ENOENT`` when no watcher with that id exists or
the caller's program does not own it (a program cannot remove another program's watcher).

Semantics
---------
* **Baseline and visibility.** The baseline is the account's value at registration (the
  invocation's own earlier writes included). The watcher observes from the **next slot's**
  enqueue step on (``active_from = slot + 1``), never in the slot that registered it: a
  registration made by a watcher callback cannot fire in the same observation.
* **Order.** In the enqueue step, run-time watchers are observed right after the declared
  watchers (step 2c), in id order (registration order), with the same edge rules
  (:func:`~arspec.spec.hooks.process_watcher_observation`).
* **Cascades.** Their items carry the same cascade depth as declared watchers' (one more than
  the shallowest writer of the account since the last observation) and are suppressed and
  reported beyond the preset's maximum depth, so every cascade stays bounded.
* **Removal.** Removing a watcher takes effect at once: it is never observed again, and an
  item it already queued is skipped as stale when it reaches the FIFO head (like a cancelled
  timer's). No watcher fires after its removal.
* **Rollback.** Registrations and removals are part of the invocation: a failed invocation
  undoes them (and the id counter), like its map writes.
* **Program upgrade.** A program's run-time watchers belong to its code: when the program is
  replaced (:func:`process_program_upgrade`), every watcher it owns is removed, and so is
  every watcher whose callback is in its code, since the callback address no longer names
  the same function.
* **Map deletion.** A watcher holds no map reference: the criteria are copied at
  registration, so deleting the map element they came from changes nothing.
* **Cost.** ``sol_watch_account`` costs ``ASYNC_START_COST`` (1000 CU, like ``timer_start``:
  it commits the scheduler to run a callback later); ``sol_unwatch_account`` costs
  ``SYSCALL_BASE_COST`` (100 CU).
* **Determinism.** Ids come from one counter in the runtime state, observation is in id
  order, and nothing depends on hashing or time: replicas agree.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from typing import Final

from arspec.spec import bundle as schema
from arspec.spec.errno import E2BIG, EINVAL, ENOENT
from arspec.spec.hooks import (
    BPS_SCALE,
    WatcherState,
    WatchSpec,
    create_watcher_state,
    get_watched_value,
    process_watcher_observation,
)
from arspec.spec.state import RuntimeState, RuntimeWatcher
from arspec.spec.types import AccountName, FuncRef, ProgId, Slot

#: Bytes of ``struct sol_watch_criteria``.
WATCH_CRITERIA_SIZE: Final = 24
#: Run-time watchers one program may own at once.
MAX_WATCHERS_PER_PROGRAM: Final = 8
#: Run-time watchers one account may have at once (over every program).
MAX_WATCHERS_PER_ACCOUNT: Final = 16
#: The ``op`` byte of the criteria, in code order.
WATCH_OP_CODES: Final[tuple[schema.WatchOp, ...]] = (
    schema.WatchOp.EQ, schema.WatchOp.NE, schema.WatchOp.LT, schema.WatchOp.LE,
    schema.WatchOp.GT, schema.WatchOp.GE, schema.WatchOp.CHANGED, schema.WatchOp.CHANGE_BPS,
)
_LAYOUT: Final = struct.Struct("<IIBBBBIQ")


@dataclass(frozen=True)
class WatchCriteria:
    """The decoded fields of ``struct sol_watch_criteria`` (not yet validated)."""

    account: int
    offset: int
    op: int
    width: int
    is_signed: int
    reserved: int
    bps: int
    value: int


def decode_watch_criteria(raw: bytes) -> WatchCriteria:
    """Return the fields of a 24-byte criteria struct."""
    # Verify the caller passes exactly one struct
    assert len(raw) == WATCH_CRITERIA_SIZE
    return WatchCriteria(*_LAYOUT.unpack(raw))


def encode_watch_criteria(criteria: WatchCriteria) -> bytes:
    """Return the 24 bytes of ``criteria`` (the inverse of :func:`decode_watch_criteria`)."""
    c = criteria
    return _LAYOUT.pack(c.account, c.offset, c.op, c.width, c.is_signed, c.reserved, c.bps,
                        c.value)


def compute_watch_spec(criteria: WatchCriteria, accounts: list[tuple[AccountName, int]]
                       ) -> WatchSpec | int:
    """Return the watch spec the criteria describe, or ``-EINVAL`` / ``-ENOENT``.

    ``accounts`` are the declared accounts' names and sizes in declaration order.
    """
    c = criteria
    if c.op >= len(WATCH_OP_CODES) or c.width not in (1, 2, 4, 8) or c.is_signed > 1 \
            or c.reserved:
        return -EINVAL
    op = WATCH_OP_CODES[c.op]
    if op == schema.WatchOp.CHANGE_BPS:
        if not 1 <= c.bps <= BPS_SCALE or c.value:
            return -EINVAL
    elif c.bps or (op == schema.WatchOp.CHANGED and c.value):
        return -EINVAL
    if c.account >= len(accounts):
        return -ENOENT
    name, size = accounts[c.account]
    if c.offset + c.width > size:
        return -EINVAL
    value: int | None = None
    if op in schema.COMPARISONS:
        value = c.value - (1 << 64) if c.is_signed and c.value >> 63 else c.value
    return WatchSpec(account=name, offset=c.offset, width=c.width, signed=bool(c.is_signed),
                     op=op, value=value,
                     bps=c.bps if op == schema.WatchOp.CHANGE_BPS else None)


def get_declared_accounts(state: RuntimeState) -> list[tuple[AccountName, int]]:
    """Return the declared accounts' names and sizes in declaration order."""
    return [(name, len(a.data)) for name, a in state.accounts.accounts.items()]


def process_watch_account(state: RuntimeState, owner: ProgId, callback: FuncRef,
                          raw: bytes, flags: int) -> int:
    """Register a run-time watcher; return its id or a negative errno (see the module)."""
    if len(raw) != WATCH_CRITERIA_SIZE or flags:
        return -EINVAL
    spec = compute_watch_spec(decode_watch_criteria(raw), get_declared_accounts(state))
    if isinstance(spec, int):
        return spec
    watchers = state.runtime_watchers.values()
    if sum(w.owner == owner for w in watchers) >= MAX_WATCHERS_PER_PROGRAM \
            or sum(w.spec.account == spec.account for w in watchers) \
            >= MAX_WATCHERS_PER_ACCOUNT:
        return -E2BIG
    watcher_id = state.next_watcher_id
    state.next_watcher_id += 1
    state.runtime_watchers[watcher_id] = RuntimeWatcher(
        watcher_id, owner, callback, spec, create_watcher_state(spec, state.accounts),
        Slot(state.slot + 1))
    return watcher_id


def process_unwatch_account(state: RuntimeState, owner: ProgId, watcher_id: int) -> int:
    """Remove the caller's watcher ``watcher_id``; return 0 or ``-ENOENT``."""
    watcher = state.runtime_watchers.get(watcher_id)
    if watcher is None or watcher.owner != owner:
        return -ENOENT
    del state.runtime_watchers[watcher_id]
    return 0


def process_program_upgrade(state: RuntimeState, prog: ProgId) -> list[int]:
    """Remove the watchers ``prog`` owns or whose callback is in its code; return their ids."""
    gone = [i for i, w in sorted(state.runtime_watchers.items())
            if w.owner == prog or w.callback.prog == prog]
    for watcher_id in gone:
        del state.runtime_watchers[watcher_id]
    return gone


def get_observing_watchers(state: RuntimeState) -> list[RuntimeWatcher]:
    """Return the run-time watchers that observe in this slot, in id order."""
    return [w for _, w in sorted(state.runtime_watchers.items()) if w.active_from <= state.slot]


def process_runtime_watcher_observation(state: RuntimeState, watcher: RuntimeWatcher) -> bool:
    """Observe one run-time watcher's field; return whether it fires."""
    value = get_watched_value(state.accounts, watcher.spec)
    return process_watcher_observation(watcher.spec, watcher.edge, value)


def copy_runtime_watchers(state: RuntimeState) -> tuple[dict[int, RuntimeWatcher], int]:
    """Return a copy of the run-time watchers and the id counter (a rollback snapshot)."""
    copied = {i: RuntimeWatcher(w.id, w.owner, w.callback, w.spec,
                                WatcherState(w.edge.last_value, w.edge.condition,
                                             w.edge.reference), w.active_from)
              for i, w in state.runtime_watchers.items()}
    return copied, state.next_watcher_id


def is_watcher_item_live(state: RuntimeState, watcher_id: int) -> bool:
    """Return whether a run-time watcher's queued item may still run (it was not removed)."""
    return watcher_id in state.runtime_watchers
