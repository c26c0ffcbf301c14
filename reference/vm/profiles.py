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
* ``solana`` is **SBPFv0** (what Agave runs for ``e_flags = 0`` ELF files; anza-xyz/sbpf
  ``src/program.rs``): fixed 4 KiB frames each followed by an unmapped 4 KiB gap, so frame
  ``k`` spans ``STACK_BASE + 0x2000 * k`` for 4 KiB and a call moves ``r10`` by 0x2000
  (``src/interpreter.rs`` ``push_frame``, ``src/memory_region.rs`` gapped regions); code
  addresses start at ``PROGRAM_BASE + SBPF_TEXT_OFFSET`` (where ``.text`` sits in the ELF
  arspec writes) and region 1 reads as zeros before it; running off the end of the code is
  charged one unit before it faults. Later SBPF versions are not modelled.
* ``linux`` frames are contiguous: frame ``k`` spans ``STACK_BASE + k * 512`` up to the next
  frame, and its ``r10`` is the top of that span.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from arspec.spec import conventions
from arspec.spec.errors import InputError

#: The address space is the spec's (:mod:`arspec.spec.conventions`).
REGION_SHIFT: Final = conventions.REGION_SHIFT
PROGRAM_REGION: Final = conventions.PROGRAM_REGION
STACK_REGION: Final = conventions.STACK_REGION
HEAP_REGION: Final = conventions.HEAP_REGION
INPUT_REGION: Final = conventions.INPUT_REGION
FIRST_DYNAMIC_REGION: Final = conventions.FIRST_DYNAMIC_REGION
PROGRAM_BASE: Final = PROGRAM_REGION << REGION_SHIFT
STACK_BASE: Final = STACK_REGION << REGION_SHIFT
HEAP_BASE: Final = HEAP_REGION << REGION_SHIFT
INPUT_BASE: Final = INPUT_REGION << REGION_SHIFT
#: Default sBPF heap (Agave ``program-runtime/src/execution_budget.rs``, ``HEAP_LENGTH``).
HEAP_SIZE: Final = 32 * 1024
#: Size of one instruction slot; code addresses are ``code_base + SLOT_SIZE * pc``.
SLOT_SIZE: Final = 8
#: File offset (and address) of ``.text`` in the SBPFv0 ELF arspec writes
#: (:mod:`~arspec.reference.differential.sbpf_elf`): it follows the 64-byte ELF header.
SBPF_TEXT_OFFSET: Final = 0x40


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
    sbpf_version
        The SBPF version the profile is (0), or ``None`` for Linux eBPF.
    """

    name: str
    stack_frame_size: int
    max_frames: int
    division_faults: bool
    sign_extend_alu32_arith: bool
    insn_cost: int = 1
    sbpf_version: int | None = None

    @property
    def stack_frame_gaps(self) -> bool:
        """Return whether an unmapped gap of one frame follows every frame (SBPFv0)."""
        return self.sbpf_version == 0

    @property
    def frame_stride(self) -> int:
        """Return how far a call moves ``r10``: one frame, or two with gaps."""
        return self.stack_frame_size * (2 if self.stack_frame_gaps else 1)

    @property
    def code_base(self) -> int:
        """Return the address of pc 0 (``.text`` follows the ELF header in SBPFv0)."""
        return PROGRAM_BASE + (SBPF_TEXT_OFFSET if self.sbpf_version == 0 else 0)

    @property
    def overrun_cost(self) -> int:
        """Return the units charged for running off the end of the code (SBPFv0: one)."""
        return self.insn_cost if self.sbpf_version is not None else 0

    @property
    def nonzero_r0_fails(self) -> bool:
        """Return whether an exit with ``r0 != 0`` is a program error (Agave: ``Custom``)."""
        return self.sbpf_version is not None

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
                        sign_extend_alu32_arith=True, sbpf_version=0)

PROFILES: Final = {p.name: p for p in (LINUX, SOLANA)}


def get_profile(name: str) -> Profile:
    """Return the profile called ``name``; an unknown name raises :class:`InputError`."""
    try:
        return PROFILES[name]
    except KeyError:
        known = ", ".join(sorted(PROFILES))
        raise InputError(f"unknown profile {name!r} (expected one of: {known})") from None
