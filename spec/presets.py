"""
Presets
=======

The tunable numbers of the specification, in two named sets. ``minimal`` keeps every limit
small so that the explorer can enumerate states exhaustively and Hypothesis runs stay fast;
``linux_like`` uses the values a real deployment would use (Linux limits from the runtime
facts, Solana compute budgets). Nothing in ``spec/`` hard-codes a size that a preset owns.

=========================  ===========  ==============  ==========================================
field                      minimal      linux_like      meaning
=========================  ===========  ==============  ==========================================
num_cpus                   2            4               CPUs of per-CPU maps (``Cpu`` in range)
max_map_entries            8            1 << 20         largest ``max_entries`` of a keyed map
max_key_size               8            512             largest key (Linux ``MAX_BPF_STACK``)
max_value_size             64           1 << 16         largest map value
ringbuf_min_size           16           4096            smallest ring-buffer data size
ringbuf_page_size          1            4096            data size must be a multiple of this
ringbuf_max_size           256          1 << 24         largest ring-buffer data size
max_tail_call_cnt          3            33              Linux ``MAX_TAIL_CALL_CNT``
bpf_max_loops              16           1 << 23         Linux ``BPF_MAX_LOOPS``
invocation_budget_cu       20_000       200_000         compute units of one invocation
slot_budget_cu             40_000       400_000         compute units the scheduler spends a slot
=========================  ===========  ==============  ==========================================

Ring-buffer sizes are always a power of two; ``linux_like`` additionally requires a multiple of
the 4096-byte page as Linux does, while ``minimal`` allows rings as small as 16 bytes (two
records) so that "full" and "wrapped" states are reached in a handful of steps.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from arspec.spec.errors import UnknownPreset
from arspec.spec.types import ComputeUnits


@dataclass(frozen=True, slots=True)
class Preset:
    """One named set of limits; see the module table for every field."""

    name: str
    num_cpus: int
    max_map_entries: int
    max_key_size: int
    max_value_size: int
    ringbuf_min_size: int
    ringbuf_page_size: int
    ringbuf_max_size: int
    max_tail_call_cnt: int
    bpf_max_loops: int
    invocation_budget_cu: ComputeUnits
    slot_budget_cu: ComputeUnits


MINIMAL: Final = Preset(
    name="minimal",
    num_cpus=2,
    max_map_entries=8,
    max_key_size=8,
    max_value_size=64,
    ringbuf_min_size=16,
    ringbuf_page_size=1,
    ringbuf_max_size=256,
    max_tail_call_cnt=3,
    bpf_max_loops=16,
    invocation_budget_cu=ComputeUnits(20_000),
    slot_budget_cu=ComputeUnits(40_000),
)

LINUX_LIKE: Final = Preset(
    name="linux_like",
    num_cpus=4,
    max_map_entries=1 << 20,
    max_key_size=512,
    max_value_size=1 << 16,
    ringbuf_min_size=4096,
    ringbuf_page_size=4096,
    ringbuf_max_size=1 << 24,
    max_tail_call_cnt=33,
    bpf_max_loops=1 << 23,
    invocation_budget_cu=ComputeUnits(200_000),
    slot_budget_cu=ComputeUnits(400_000),
)

#: Every preset by name, in a fixed order.
PRESETS: Final[dict[str, Preset]] = {MINIMAL.name: MINIMAL, LINUX_LIKE.name: LINUX_LIKE}


def get_preset(name: str) -> Preset:
    """Return the preset called ``name``; raise :class:`UnknownPreset` naming the choices."""
    if name not in PRESETS:
        raise UnknownPreset(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[name]
