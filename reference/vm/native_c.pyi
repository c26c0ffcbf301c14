"""Type stub of the native tier's C extension (``native_c.c``; see
:mod:`arspec.reference.vm.native`)."""

from typing import Any, Final

#: Opcode names in the extension's numbering.
OPCODES: Final[tuple[str, ...]]
#: Bytes per packed instruction.
INSN_SIZE: Final[int]
#: The scratch register an immediate operand is read from.
IMM_REG: Final[int]

def run(vm: Any, code: bytes, sites: tuple[tuple[Any, Any, int, bool] | None, ...],
        params: tuple[int, int, int, int, int], windows: bool, /) -> int:
    """Run ``vm`` from its pc until its base frame exits or an instruction is left to Python;
    return the instructions run natively."""
