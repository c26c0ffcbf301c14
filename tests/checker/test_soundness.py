"""Soundness against the reference VM on random small programs.

If the verifier says MEMORY (or DIVISION) is PROVED, no random input may make the VM fault
that way; every REFUTED finding's counterexample must reproduce on the VM.
"""

from __future__ import annotations

import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arspec.checker.verdict import Property, Verdict
from arspec.checker.verifier import verify_program
from arspec.reference.isa.assembler import assemble
from arspec.reference.vm.load_checks import ProgramRejected, check_program
from arspec.reference.vm.profiles import LINUX, SOLANA, Profile
from arspec.reference.vm.vm import execute
from arspec.spec.errors import DivisionByZero, DivisionOverflow, MemoryFault

SIZES = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
MAX_INPUT = 16


@st.composite
def programs(draw: st.DrawFn) -> list[str]:
    lines = ["r0 = 0", "r3 = 1", "r4 = 2", "r5 = 3"]
    for _ in range(draw(st.integers(1, 8))):
        kind = draw(st.sampled_from(["stack", "input", "guard", "alu", "div", "load"]))
        size = draw(st.sampled_from(sorted(SIZES)))
        reg = draw(st.sampled_from([0, 3, 4, 5]))
        if kind == "stack":
            off = draw(st.integers(-520, 8))
            lines.append(f"*({SIZES[size]} *)(r10 {'+' if off >= 0 else '-'} {abs(off)}) = r{reg}")
        elif kind == "load":
            off = draw(st.integers(-520, 8))
            lines.append(f"r{reg} = *({SIZES[size]} *)(r10 {'+' if off >= 0 else '-'} {abs(off)})")
        elif kind == "input":
            off = draw(st.integers(-2, 18))
            lines.append(f"r{reg} = *({SIZES[size]} *)(r1 {'+' if off >= 0 else '-'} {abs(off)})")
        elif kind == "guard":
            bound = draw(st.integers(0, 18))
            lines.append(f"if r2 < {bound} goto out")
        elif kind == "alu":
            op = draw(st.sampled_from(["+=", "-=", "&=", "|=", "^=", "*=", ">>=", "<<="]))
            src = draw(st.sampled_from(["r0", "r2", "r3", "r4", "r5", "7", "31"]))
            lines.append(f"r{reg} {op} {src}")
        else:
            op = draw(st.sampled_from(["/=", "%=", "s/=", "s%="]))
            src = draw(st.sampled_from(["r2", "r3", "r4", "r5"]))
            lines.append(f"r{reg} {op} {src}")
    return [*lines, "out:", "exit"]


def _inputs(seed: int) -> list[bytes]:
    rng = random.Random(seed)
    out = [b"", bytes(MAX_INPUT)]
    for _ in range(30):
        out.append(bytes(rng.randrange(256) for _ in range(rng.randrange(MAX_INPUT + 1))))
    return out


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(lines=programs(), profile=st.sampled_from([LINUX, SOLANA]), seed=st.integers(0, 9))
def test_proved_never_faults_and_refuted_reproduces(lines: list[str], profile: Profile,
                                                    seed: int) -> None:
    program = assemble("\n".join(lines))
    report = verify_program(program, profile=profile, max_input=MAX_INPUT)
    try:
        check_program(program, profile)
    except ProgramRejected:  # e.g. signed division in SBPFv0: refused, never run
        assert report.verdict(Property.CONTROL) is Verdict.REFUTED
        return
    memory_proved = report.verdict(Property.MEMORY) is Verdict.PROVED
    division_proved = report.verdict(Property.DIVISION) is Verdict.PROVED
    for data in _inputs(seed):
        result = execute(program, profile=profile, memory=data, engine="interpreter")
        if memory_proved:
            assert not isinstance(result.fault, MemoryFault), (lines, data, result.fault)
        if division_proved:
            assert not isinstance(result.fault, DivisionByZero | DivisionOverflow)
    for finding in report.findings:
        if finding.verdict is Verdict.REFUTED:
            cx = finding.counterexample
            assert cx is not None and cx.replayed
            if finding.property in (Property.MEMORY, Property.DIVISION):
                result = execute(program, profile=profile, memory=cx.input,
                                 engine="interpreter")
                assert result.fault is not None and result.fault.pc == finding.pc
        assert not finding.note.startswith("counterexample did not replay"), finding.note
