"""The spec's context access rule against the live kernel's verifier (bpf(2), root).

For every program type, offset, access size and direction, a one-access program is loaded
with ``BPF_PROG_LOAD``; the kernel must accept it exactly when
:func:`arspec.spec.contexts.is_access_allowed` says the access is allowed.
"""

from __future__ import annotations

import struct

import pytest

from arspec.reference.differential.kernel_bpf import (
    KernelRejected,
    ProgramType,
    kernel_available,
    load_program,
)
from arspec.spec.contexts import (
    DEFAULT_RAW_CONTEXT,
    KERNEL_PROGRAM_TYPES,
    get_context_layout,
    is_access_allowed,
)
from arspec.spec.contexts import (
    ProgramType as ContextType,
)

pytestmark = pytest.mark.kernel

_SIZE_BITS = {1: 0x10, 2: 0x08, 4: 0x00, 8: 0x18}


def _insn(op: int, dst: int, src: int, off: int, imm: int) -> bytes:
    return struct.pack("<BBhi", op, dst | src << 4, off, imm)


def _access(offset: int, size: int, write: bool) -> bytes:
    if write:  # r2 = 0; *(size *)(r1 + offset) = r2
        body = _insn(0xB7, 2, 0, 0, 0) + _insn(0x63 | _SIZE_BITS[size], 1, 2, offset, 0)
    else:  # r0 = *(size *)(r1 + offset)
        body = _insn(0x61 | _SIZE_BITS[size], 0, 1, offset, 0)
    return body + _insn(0xB7, 0, 0, 0, 0) + _insn(0x95, 0, 0, 0, 0)


def _kernel_accepts(code: bytes, prog_type: int) -> bool:
    try:
        with load_program(code, ProgramType(prog_type)):
            return True
    except KernelRejected:
        return False


@pytest.fixture(scope="module", autouse=True)
def _kernel() -> None:
    available, reason = kernel_available()
    if not available:
        print(f"context rule against the kernel skipped: {reason}")
        pytest.skip(reason)


@pytest.mark.parametrize("program_type", list(ContextType))
def test_access_rule_matches_the_kernel(program_type: ContextType) -> None:
    layout = get_context_layout(program_type, DEFAULT_RAW_CONTEXT)
    kernel_type = KERNEL_PROGRAM_TYPES[program_type]
    wrong = []
    for offset in range(layout.size + 8):
        for size in (1, 2, 4, 8):
            for write in (False, True):
                spec = is_access_allowed(layout, offset, size, write=write)
                if _kernel_accepts(_access(offset, size, write), kernel_type) != spec:
                    wrong.append((offset, size, "write" if write else "read", spec))
    assert not wrong, f"{program_type.value}: spec and kernel differ at {wrong}"
