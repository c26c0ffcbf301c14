"""
Tail calls
==========

``bpf_tail_call(ctx, prog_array, index)`` (helper 12; Linux ``kernel/bpf/core.c``,
``___bpf_prog_run`` at ``JMP_TAIL_CALL``): replace the running program by the program in slot
``index`` of a ``PROG_ARRAY`` map, keeping the context. A successful tail call never returns;
every failure falls through to the next instruction.

The checks run in the Linux interpreter's order, which matters for the counter:

1. ``index >= max_entries``: fall through (counter unchanged);
2. ``count >= MAX_TAIL_CALL_CNT`` (33): fall through (counter unchanged);
3. ``count += 1``;
4. empty slot: fall through, **with the counter already incremented**;
5. jump to the target's first instruction.

So at most 33 tail calls succeed in a chain (34 programs run), and a call to an empty slot
still uses up one of the 33.

Compute budget (the spec's choice): a chain is one invocation. The tail call replaces the
program but not the meter, so every program of the chain draws from the same invocation
budget, as one Solana instruction does however many functions it runs. ``r0`` on a fall
through is left unchanged (Linux does not write it).

How the target starts (pc 0, the caller's ``r1``, a fresh stack, the same meter) is stated
with the other entry conventions: :data:`arspec.spec.conventions.TAIL_CALL_ENTRY`.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

from arspec.spec.presets import Preset
from arspec.spec.types import U32_MASK, ProgId


@dataclass(eq=False)
class ProgArray:
    """The slots of a ``PROG_ARRAY`` map: a program id per slot, or ``None`` when empty."""

    slots: list[ProgId | None]


@dataclass
class TailCallChain:
    """The tail-call counter of one invocation and the limit it runs under."""

    count: int
    limit: int


class TailCallResult(Enum):
    """Why a tail call jumped or fell through."""

    JUMPED = "jumped"
    INDEX_OUT_OF_RANGE = "index out of range"
    LIMIT_REACHED = "tail-call limit reached"
    EMPTY_SLOT = "empty slot"


@dataclass(frozen=True)
class TailCallOutcome:
    """The result of one tail call: the target when it jumped, else why it fell through."""

    result: TailCallResult
    target: ProgId | None


def create_prog_array(max_entries: int) -> ProgArray:
    """Return a program array with every slot empty."""
    return ProgArray(slots=[None] * max_entries)


def create_tail_call_chain(preset: Preset) -> TailCallChain:
    """Return the counter of a new invocation (0 tail calls so far)."""
    return TailCallChain(count=0, limit=preset.max_tail_call_cnt)


def process_prog_array_update(prog_array: ProgArray, index: int, prog: ProgId) -> None:
    """Put ``prog`` in slot ``index`` (done by the loader, never by a program)."""
    # Verify the slot exists
    assert 0 <= index < len(prog_array.slots)
    prog_array.slots[index] = prog


def process_prog_array_delete(prog_array: ProgArray, index: int) -> None:
    """Empty slot ``index`` (done by the loader, never by a program)."""
    # Verify the slot exists
    assert 0 <= index < len(prog_array.slots)
    prog_array.slots[index] = None


def is_tail_call_limit_reached(chain: TailCallChain) -> bool:
    """Return whether the chain has used all its tail calls."""
    return chain.count >= chain.limit


def process_tail_call(chain: TailCallChain, prog_array: ProgArray, index: int) -> TailCallOutcome:
    """Apply one ``bpf_tail_call``; ``index`` is the register value, truncated to u32."""
    index &= U32_MASK
    if index >= len(prog_array.slots):
        return TailCallOutcome(TailCallResult.INDEX_OUT_OF_RANGE, None)
    if is_tail_call_limit_reached(chain):
        return TailCallOutcome(TailCallResult.LIMIT_REACHED, None)
    chain.count += 1
    target = prog_array.slots[index]
    if target is None:
        return TailCallOutcome(TailCallResult.EMPTY_SLOT, None)
    return TailCallOutcome(TailCallResult.JUMPED, target)
