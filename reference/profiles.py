"""
Profiles
========

The two execution profiles, ``linux`` and ``solana``, and the shared memory layout.
A profile fixes every semantic choice on which Linux eBPF and Agave's sBPF VM disagree.

Both profiles use the sBPF address scheme (anza-xyz/sbpf ``src/ebpf.rs``, ``MM_*_START``): a
virtual address is ``region index << 32 | offset``. Region 1 holds the program bytecode
(read-only), region 2 the stack, region 3 the heap (``solana`` only, 32 KiB), region 4 the input
memory; indices from 5 up are allocated at run time (map values, ring-buffer records, account
data). Region 0 is never mapped, so NULL and small integers always fault.

Departures from the real machines, on purpose:

* ``linux`` uses the same region scheme instead of kernel pointers, and gives each call frame
  its own 512-byte slot (the kernel shares 512 bytes across all frames and checks statically).
* ``solana`` models sBPF v0 fixed frames **without** the unmapped 4 KiB gap after each frame,
  and has no rodata region at address 0 (v3+).
* Frames are contiguous: frame ``k`` spans ``STACK_BASE + k * stack_frame_size`` up to the
  next frame, and its ``r10`` is the top of that span.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from arspec.spec.errors import InputError

#: Width of one region's offset space (anza-xyz/sbpf ``src/ebpf.rs``, ``MM_REGION_SIZE``).
REGION_SHIFT: Final = 32
PROGRAM_REGION: Final = 1
STACK_REGION: Final = 2
HEAP_REGION: Final = 3
INPUT_REGION: Final = 4
#: First region index handed out by :meth:`~arspec.reference.memory.Memory.allocate_region`.
FIRST_DYNAMIC_REGION: Final = 5

PROGRAM_BASE: Final = PROGRAM_REGION << REGION_SHIFT
STACK_BASE: Final = STACK_REGION << REGION_SHIFT
HEAP_BASE: Final = HEAP_REGION << REGION_SHIFT
INPUT_BASE: Final = INPUT_REGION << REGION_SHIFT
#: Default sBPF heap (Agave ``program-runtime/src/execution_budget.rs``, ``HEAP_LENGTH``).
HEAP_SIZE: Final = 32 * 1024
#: Size of one instruction slot; code addresses are ``PROGRAM_BASE + SLOT_SIZE * pc``.
SLOT_SIZE: Final = 8


@dataclass(frozen=True)
class Profile:
    """The semantic choices of one execution environment.

    Parameters
    ----------
    name
        ``"linux"`` or ``"solana"``.
    stack_frame_size
        Bytes per call frame: 512 (Linux ``MAX_BPF_STACK``) or 4096 (sBPF ``STACK_FRAME_SIZE``).
    max_frames
        Call frames including the entry frame: 8 (Linux ``MAX_CALL_FRAMES``) or 64
        (sBPF ``MAX_CALL_DEPTH``, anza-xyz/sbpf ``src/vm.rs``).
    division_faults
        Division or modulo by zero faults, and so does signed ``MIN / -1`` (anza-xyz/sbpf
        ``src/interpreter.rs``); otherwise RFC 9669 results apply (RFC 9669 section 4).
    sign_extend_alu32_arith
        ``add32``, ``sub32``, ``mul32`` sign-extend bit 31 (sBPF v0, anza-xyz/sbpf
        ``src/interpreter.rs``).
    insn_cost
        Compute units charged per executed instruction (exactly 1: anza-xyz/sbpf
        ``src/interpreter.rs`` charges each ``step``).
    """

    name: str
    stack_frame_size: int
    max_frames: int
    division_faults: bool
    sign_extend_alu32_arith: bool
    insn_cost: int = 1

    @property
    def stack_size(self) -> int:
        """Return the size of the whole stack region (every frame)."""
        return self.stack_frame_size * self.max_frames

    @property
    def has_heap(self) -> bool:
        """Return whether region 3 (the heap) is mapped in this profile."""
        return self.name == "solana"


LINUX: Final = Profile("linux", stack_frame_size=512, max_frames=8, division_faults=False,
                       sign_extend_alu32_arith=False)
SOLANA: Final = Profile("solana", stack_frame_size=4096, max_frames=64, division_faults=True,
                        sign_extend_alu32_arith=True)

PROFILES: Final = {p.name: p for p in (LINUX, SOLANA)}


def get_profile(name: str) -> Profile:
    """Return the profile called ``name``; an unknown name raises :class:`InputError`."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise InputError(f"unknown profile {name!r} (expected one of: {known})") from None
