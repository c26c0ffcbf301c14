"""
Instruction vector sources
==========================

Where instruction-level vectors come from, each a list of ``(id, input)`` in a fixed order:
the conformance ``.data`` files under ``tests/conformance`` (in every profile a file names),
random programs of the two differential generators under fixed seeds (Agave's SBPFv0 entry
for :func:`~arspec.reference.differential.agave_diff.generate_case`, the Linux packet entry
for :func:`~arspec.reference.differential.kernel_diff.generate_kernel_case`), and hand-written
edge cases, one or more per fault kind, in both profiles.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Any, Final

from arspec.cli.vectors.instruction import make_input, words
from arspec.reference.differential.agave_diff import generate_case, loaded_text
from arspec.reference.differential.conformance import (
    find_data_files,
    load_program,
    parse_data_file,
)
from arspec.reference.differential.kernel_diff import (
    SKB_DATA,
    finish_folded,
    generate_kernel_case,
)
from arspec.reference.isa.encoder import encode
from arspec.reference.vm.profiles import INPUT_BASE, SOLANA
from arspec.reference.vm.vm import entry_input
from arspec.spec.errors import ArspecError

Source = list[tuple[str, dict[str, Any]]]

#: First seed of the differential generators' programs (seed ``AGAVE_SEED + i``).
AGAVE_SEED: Final = 13_000
KERNEL_SEED: Final = 13_500

_ENTRY: Final = {"r1": INPUT_BASE, "r2": 0}

#: Hand-written edge cases: name, program words, input memory, compute limit.
EDGE_CASES: Final[tuple[tuple[str, bytes, bytes, int], ...]] = (
    ("div_by_zero", words((0xB7, 0, 0, 0, 7), (0xB7, 1, 0, 0, 0), (0x3F, 0, 1, 0, 0),
                          (0x95, 0, 0, 0, 0)), b"", 100),
    ("mod_by_zero", words((0xB7, 0, 0, 0, 7), (0xB7, 1, 0, 0, 0), (0x9F, 0, 1, 0, 0),
                          (0x95, 0, 0, 0, 0)), b"", 100),
    ("div32_by_zero_imm", words((0xB7, 0, 0, 0, 9), (0x34, 0, 0, 0, 0), (0x95, 0, 0, 0, 0)),
     b"", 100),
    ("sdiv_overflow", words((0x18, 0, 0, 0, 0), (0, 0, 0, 0, -0x80000000),
                            (0xB7, 1, 0, 0, -1), (0x3F, 0, 1, 1, 0), (0x95, 0, 0, 0, 0)),
     b"", 100),
    ("load_null", words((0xB7, 1, 0, 0, 0), (0x79, 0, 1, 0, 0), (0x95, 0, 0, 0, 0)), b"", 100),
    ("store_code_region", words((0x18, 1, 0, 0, 0), (0, 0, 0, 0, 1), (0x7A, 1, 0, 0, 1),
                                (0x95, 0, 0, 0, 0)), b"", 100),
    ("load_above_stack", words((0x79, 0, 10, 8, 0), (0x95, 0, 0, 0, 0)), b"", 100),
    ("load_past_input", words((0x79, 0, 1, 4, 0), (0x95, 0, 0, 0, 0)), bytes(8), 100),
    ("stack_store_load", words((0x7A, 10, 0, -8, 0x2A), (0x79, 0, 10, -8, 0),
                               (0x95, 0, 0, 0, 0)), b"", 100),
    ("input_store", words((0x7B, 1, 2, 0, 0), (0x73, 1, 0, 7, 0), (0xB7, 0, 0, 0, 0),
                          (0x95, 0, 0, 0, 0)), bytes(range(8)), 100),
    ("atomic_add_stack", words((0x7A, 10, 0, -8, 5), (0xB7, 1, 0, 0, 3), (0xDB, 10, 1, -8, 0),
                               (0x79, 0, 10, -8, 0), (0x95, 0, 0, 0, 0)), b"", 100),
    ("budget_exceeded", words((0xB7, 0, 0, 0, 0), (0x07, 0, 0, 0, 1), (0x05, 0, 0, -2, 0)),
     b"", 50),
    ("budget_exact", words((0xB7, 0, 0, 0, 1), (0x95, 0, 0, 0, 0)), b"", 2),
    ("call_depth", words((0x85, 0, 1, 0, -1), (0x95, 0, 0, 0, 0)), b"", 10_000),
    ("bad_helper", words((0x85, 0, 0, 0, 0x7FFF), (0x95, 0, 0, 0, 0)), b"", 100),
    ("helper_return_r1", words((0xB7, 1, 0, 0, 41), (0x85, 0, 0, 0, 5), (0x07, 0, 0, 0, 1),
                               (0x95, 0, 0, 0, 0)), b"", 100),
    ("bad_opcode", words((0xFF, 0, 0, 0, 0), (0x95, 0, 0, 0, 0)), b"", 100),
    ("fall_off_end", words((0xB7, 0, 0, 0, 0), (0x07, 0, 0, 0, 1)), b"", 100),
    ("callx_bad_target", words((0xB7, 1, 0, 0, 3), (0x8D, 0, 1, 0, 1), (0x95, 0, 0, 0, 0)),
     b"", 100),
    ("callx_dst_register", words((0xB7, 1, 0, 0, 3), (0x8D, 1, 0, 0, 0), (0x95, 0, 0, 0, 0)),
     b"", 100),
    ("unresolved_map_lddw", words((0x18, 1, 1, 0, 1), (0, 0, 0, 0, 0), (0x95, 0, 0, 0, 0)),
     b"", 100),
    ("nonzero_exit", words((0xB7, 0, 0, 0, 3), (0x95, 0, 0, 0, 0)), b"", 100),
)


def edge_cases() -> Source:
    """Return the hand-written edge cases, each in both profiles."""
    out: Source = []
    for name, program, memory, limit in EDGE_CASES:
        for profile in ("linux", "solana"):
            loader = "sbpf_v0" if profile == "solana" else "raw"
            out.append((f"edge/{name}/{profile}",
                        make_input(program, profile=profile, memory=memory, loader=loader,
                                   compute_limit=limit)))
    return out


def conformance_cases(root: Path, skipped: list[tuple[str, str]] | None = None) -> Source:
    """Return the ``.data`` files under ``root`` in each profile they name (sorted by path).

    A file whose assembly does not assemble gives no vector (that is an assembler fact, not
    an execution one); it is appended to ``skipped`` as ``(file, reason)``.
    """
    out: Source = []
    for path in find_data_files(root):
        case = parse_data_file(path)
        name = path.relative_to(root).with_suffix("").as_posix()
        raw = case.raw_bytes()
        if raw is None:
            try:
                raw = encode(load_program(case))
            except ArspecError as error:
                if skipped is not None:
                    skipped.append((f"instruction conformance/{name}.data",
                                    str(error).splitlines()[0].replace(str(root) + "/", "")))
                continue
        for profile in case.profiles:
            loader = "sbpf_v0" if profile == "solana" and case.raw is not None else "raw"
            out.append((f"conformance/{name}/{profile}",
                        make_input(raw, profile=profile, memory=case.mem, loader=loader,
                                   compute_limit=case.insn_limit)))
    return out


def agave_cases(count: int) -> Source:
    """Return ``count`` random SBPFv0 programs of the Agave differential generator."""
    out: Source = []
    for i in range(count):
        case = generate_case(random.Random(AGAVE_SEED + i))
        region, (r1, r2) = entry_input(SOLANA, case.data)
        out.append((f"agave/{AGAVE_SEED + i}-{case.kind}",
                    make_input(case.text, profile="solana", memory=region, loader="sbpf_v0",
                               registers={"r1": r1, "r2": r2}, compute_limit=case.limit,
                               text=loaded_text(case.text))))
    return out


def kernel_cases(count: int) -> Source:
    """Return ``count`` random Linux programs of the kernel differential generator."""
    out: Source = []
    for i in range(count):
        rng = random.Random(KERNEL_SEED + i)
        case = generate_kernel_case(rng)
        program = finish_folded(case.body, high_half=False, callee=rng.random() < 0.3)
        out.append((f"kernel/{KERNEL_SEED + i}-{case.kind}",
                    make_input(encode(program), profile="linux", memory=SKB_DATA,
                               compute_limit=1_000_000)))
    return out
