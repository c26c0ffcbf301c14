"""Linux program-type contexts: the spec's access rule, the runtime's context, the verifier.

Negative cases first: every access a type forbids faults on the runtime and is a replayed
REFUTED finding in the verifier; packet accesses without (or with a too weak) comparison
against ``data_end`` are refuted. Property tests pin the runtime and the verifier to the
spec's rule, and PROVED programs to fault-free runs.
"""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arspec.checker.verdict import Property, Verdict
from arspec.checker.verifier import verify_program
from arspec.reference.isa.assembler import assemble
from arspec.reference.runtime.contexts import ProgramContext, execute_in_context
from arspec.spec.contexts import (
    MAX_PACKET_SIZE,
    SCHED_CLS_FIELDS,
    ProgramType,
    compute_context_bytes,
    get_allowed_field,
    get_allowed_offsets,
    get_context_layout,
    is_access_allowed,
)
from arspec.spec.conventions import CONTEXT_BASE
from arspec.spec.errors import InputError, MemoryFault

SIZES = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
XDP = ProgramContext(get_context_layout(ProgramType.XDP))
SOCKET = ProgramContext(get_context_layout(ProgramType.SOCKET_FILTER))
SCHED = ProgramContext(get_context_layout(ProgramType.SCHED_CLS))
TRACING = ProgramContext(get_context_layout(ProgramType.TRACING, 64))
CONTEXTS = {"xdp": XDP, "socket_filter": SOCKET, "sched_cls": SCHED, "tracing": TRACING}

#: XDP prologue: r2 = data, r3 = data_end, r4 = data + 14.
XDP_BOUNDS = """
r2 = *(u32 *)(r1 + 0)
r3 = *(u32 *)(r1 + 4)
r4 = r2
r4 += 14
"""


def verdicts(code: str, context: ProgramContext) -> dict[Property, Verdict]:
    return dict(verify_program(assemble(code), context=context).verdicts)


def memory(code: str, context: ProgramContext) -> Verdict:
    return verdicts(code, context)[Property.MEMORY]


def refuted_and_replayed(code: str, context: ProgramContext, pc: int) -> None:
    report = verify_program(assemble(code), context=context)
    found = [f for f in report.findings if f.property is Property.MEMORY]
    assert found, report.findings
    assert found[0].verdict is Verdict.REFUTED, found[0]
    assert found[0].pc == pc
    assert found[0].counterexample is not None and found[0].counterexample.replayed


# -- the spec's rule --------------------------------------------------------------------


def test_invalid_xdp_narrow_or_wide_loads_are_not_allowed() -> None:
    layout = XDP.layout
    for offset in range(layout.size):
        for size in (1, 2, 8):
            assert not is_access_allowed(layout, offset, size, write=False)
        assert not is_access_allowed(layout, offset, 4, write=True)


def test_invalid_socket_filter_cannot_reach_the_packet_pointers() -> None:
    layout = SOCKET.layout
    for name_offset in (72, 76, 80, 140, 152, 160, 184):
        assert not is_access_allowed(layout, name_offset, 4, write=False), name_offset
    assert not is_access_allowed(layout, 8, 4, write=True)  # mark is read-only here


def test_invalid_misaligned_or_straddling_accesses() -> None:
    layout = SCHED.layout
    assert not is_access_allowed(layout, 1, 2, write=False)  # not aligned to its size
    assert not is_access_allowed(layout, 66, 4, write=False)  # cb[4] half and hash half
    assert not is_access_allowed(layout, 64, 8, write=False)  # past the end of cb
    assert not is_access_allowed(layout, 8, 1, write=True)  # narrow write of mark
    assert not is_access_allowed(layout, 0, 3, write=False)
    assert not is_access_allowed(layout, -4, 4, write=False)
    assert not is_access_allowed(layout, 192, 4, write=False)


def test_invalid_tracing_context_is_read_only_and_bounded() -> None:
    layout = TRACING.layout
    assert not is_access_allowed(layout, 0, 8, write=True)
    assert not is_access_allowed(layout, 60, 8, write=False)
    assert not is_access_allowed(layout, 4, 8, write=False)


def test_allowed_accesses_match_the_uapi_layout() -> None:
    layout = SCHED.layout
    assert get_allowed_offsets(layout, 8, write=False) == [48, 56, 152, 168, 184]
    assert get_allowed_offsets(layout, 8, write=True) == [48, 56, 152]
    assert get_allowed_offsets(layout, 4, write=True) == [8, 12, 32, 44, 48, 52, 56, 60, 64,
                                                           72]
    assert get_allowed_offsets(XDP.layout, 4, write=False) == [0, 4, 8, 12, 16]
    data = get_allowed_field(layout, 76, 4, write=False)
    assert data is not None and data.name == "data"
    assert sorted(f.offset for f in SCHED_CLS_FIELDS) == [f.offset for f in SCHED_CLS_FIELDS]


def test_context_bytes_from_the_packet() -> None:
    packet = bytes(12) + b"\x08\x00" + bytes(6)
    data = compute_context_bytes(SCHED.layout, packet)
    assert int.from_bytes(data[0:4], "little") == 20
    assert data[16:18] == b"\x08\x00" and not any(data[18:])
    assert not any(compute_context_bytes(SCHED.layout, bytes(13))[4:])
    assert not any(compute_context_bytes(XDP.layout, packet))


# -- the runtime ----------------------------------------------------------------------


def test_invalid_runtime_faults_on_a_forbidden_context_access() -> None:
    for code, context in [("r0 = *(u16 *)(r1 + 0)\nexit", XDP),
                          ("*(u32 *)(r1 + 8) = 1\nr0 = 0\nexit", SOCKET),
                          ("r0 = *(u32 *)(r1 + 76)\nexit", SOCKET),
                          ("*(u64 *)(r1 + 0) = 0\nr0 = 0\nexit", TRACING)]:
        result = execute_in_context(assemble(code), context)
        assert isinstance(result.fault, MemoryFault), code
        assert "context" in str(result.fault)


def test_invalid_runtime_packet_read_past_data_end_faults() -> None:
    code = "r2 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r2 + 14)\nexit"
    result = execute_in_context(assemble(code), XDP, packet=bytes(14))
    assert isinstance(result.fault, MemoryFault)


def test_invalid_runtime_refuses_oversized_or_misplaced_packets() -> None:
    program = assemble("r0 = 0\nexit")
    with pytest.raises(InputError):
        execute_in_context(program, XDP, packet=bytes(MAX_PACKET_SIZE + 1))
    with pytest.raises(InputError):
        execute_in_context(program, TRACING, packet=b"\x01")


def test_runtime_pointer_fields_and_scalars() -> None:
    code = XDP_BOUNDS + "r0 = r3\nr0 -= r2\nexit"
    assert execute_in_context(assemble(code), XDP, packet=bytes(30)).r0 == 30
    code = "r0 = *(u32 *)(r1 + 0)\n*(u32 *)(r1 + 48) = r0\nr0 = *(u16 *)(r1 + 48)\nexit"
    assert execute_in_context(assemble(code), SCHED, packet=bytes(300)).r0 == 300
    result = execute_in_context(assemble("r0 = r1\nexit"), SCHED)
    assert result.r0 == CONTEXT_BASE
    code = "r2 = *(u32 *)(r1 + 76)\nr0 = *(u32 *)(r1 + 140)\nr0 -= r2\nexit"
    assert execute_in_context(assemble(code), SCHED, packet=bytes(4)).r0 == 0
    code = "r0 = *(u64 *)(r1 + 8)\nexit"
    raw = bytes(8) + (7).to_bytes(8, "little")
    assert execute_in_context(assemble(code), TRACING, raw=raw).r0 == 7


# -- the verifier: negative cases -----------------------------------------------------


def test_invalid_packet_read_without_bounds_check_is_refuted() -> None:
    code = "r2 = *(u32 *)(r1 + 0)\nr0 = *(u8 *)(r2 + 0)\nexit"
    refuted_and_replayed(code, XDP, 1)


def test_invalid_packet_read_one_past_the_checked_bound_is_refuted() -> None:
    code = XDP_BOUNDS + "if r4 > r3 goto out\nr0 = *(u8 *)(r2 + 14)\nexit\nout:\nr0 = 2\nexit"
    refuted_and_replayed(code, XDP, 5)


def test_invalid_packet_read_on_the_wrong_branch_is_refuted() -> None:
    code = XDP_BOUNDS + "if r4 <= r3 goto out\nr0 = *(u8 *)(r2 + 0)\nexit\nout:\nr0 = 2\nexit"
    refuted_and_replayed(code, XDP, 5)


def test_invalid_wide_load_after_a_narrow_check_is_refuted() -> None:
    code = XDP_BOUNDS + "if r4 > r3 goto out\nr0 = *(u32 *)(r2 + 12)\nexit\nout:\nr0 = 2\nexit"
    refuted_and_replayed(code, XDP, 5)


def test_invalid_data_meta_without_check_is_refuted() -> None:
    code = "r2 = *(u32 *)(r1 + 8)\nr0 = *(u8 *)(r2 + 0)\nexit"
    refuted_and_replayed(code, XDP, 1)


def test_invalid_data_end_dereference_is_refuted() -> None:
    code = "r3 = *(u32 *)(r1 + 4)\nr0 = *(u8 *)(r3 + 0)\nexit"
    assert memory(code, XDP) is Verdict.REFUTED


@pytest.mark.parametrize(("code", "context", "pc"), [
    ("r0 = *(u16 *)(r1 + 0)\nexit", XDP, 0),
    ("r0 = *(u64 *)(r1 + 0)\nexit", XDP, 0),
    ("r0 = *(u32 *)(r1 + 20)\nexit", XDP, 0),
    ("*(u32 *)(r1 + 16) = 0\nr0 = 0\nexit", XDP, 0),
    ("r0 = *(u32 *)(r1 + 76)\nexit", SOCKET, 0),
    ("r0 = *(u32 *)(r1 + 72)\nexit", SOCKET, 0),
    ("*(u32 *)(r1 + 8) = 1\nr0 = 0\nexit", SOCKET, 0),
    ("r0 = *(u16 *)(r1 + 76)\nexit", SCHED, 0),
    ("*(u8 *)(r1 + 8) = 1\nr0 = 0\nexit", SCHED, 0),
    ("*(u32 *)(r1 + 0) = 1\nr0 = 0\nexit", SCHED, 0),
    ("r0 = *(u32 *)(r1 + 88)\nexit", SCHED, 0),
    ("r0 = *(u32 *)(r1 + 192)\nexit", SCHED, 0),
    ("r0 = *(u64 *)(r1 + 60)\nexit", TRACING, 0),
    ("r0 = 1\n*(u64 *)(r1 + 0) = r0\nexit", TRACING, 1),
])
def test_invalid_context_access_is_refuted(code: str, context: ProgramContext, pc: int) -> None:
    refuted_and_replayed(code, context, pc)


def test_invalid_entry_registers_beyond_r1_are_uninitialised() -> None:
    found = verdicts("r0 = r2\nexit", XDP)
    assert found[Property.DETERMINISM] is not Verdict.PROVED


def test_invalid_pointer_stored_into_the_context_is_not_proved() -> None:
    code = "r2 = r10\n*(u64 *)(r1 + 48) = r2\nr0 = 0\nexit"
    assert memory(code, SCHED) is not Verdict.PROVED


def test_invalid_modified_context_pointer_is_not_proved() -> None:
    code = "r1 += 4\nr0 = *(u32 *)(r1 + 0)\nexit"
    assert memory(code, XDP) is not Verdict.PROVED


def test_invalid_read_beyond_a_long_checked_packet_is_refuted() -> None:
    # The bad read happens only for packets longer than 100 bytes: a bound on the packet
    # length below that would wrongly prove it.
    code = ("r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\nr4 += 100\n"
            "if r4 > r3 goto out\nr0 = *(u8 *)(r2 + 200)\nexit\nout:\nr0 = 2\nexit")
    refuted_and_replayed(code, XDP, 5)


# -- the verifier: accepted programs ---------------------------------------------------


@pytest.mark.parametrize("check", ["if r4 > r3 goto out", "if w4 > w3 goto out",
                                   "if r3 < r4 goto out", "if w3 < w4 goto out"])
def test_bounds_learned_from_data_end_comparisons(check: str) -> None:
    code = XDP_BOUNDS + f"{check}\nr0 = *(u8 *)(r2 + 13)\nexit\nout:\nr0 = 2\nexit"
    assert set(verdicts(code, XDP).values()) == {Verdict.PROVED}


def test_bounds_learned_on_the_taken_branch() -> None:
    code = XDP_BOUNDS + "if r3 >= r4 goto ok\nr0 = 1\nexit\nok:\nr0 = *(u16 *)(r2 + 12)\nexit"
    assert set(verdicts(code, XDP).values()) == {Verdict.PROVED}


def test_packet_write_after_check_is_proved() -> None:
    code = XDP_BOUNDS + "if r4 > r3 goto out\nr0 = 0\n*(u32 *)(r2 + 0) = r0\nout:\nr0 = 2\nexit"
    assert set(verdicts(code, XDP).values()) == {Verdict.PROVED}


def test_sched_cls_fields_and_writes_are_proved() -> None:
    code = ("r0 = *(u8 *)(r1 + 16)\n*(u32 *)(r1 + 8) = r0\n*(u64 *)(r1 + 48) = r0\n"
            "r0 = *(u32 *)(r1 + 48)\nr2 = *(u32 *)(r1 + 76)\nr3 = *(u32 *)(r1 + 80)\n"
            "r2 += 1\nif r2 > r3 goto out\nr0 = *(u8 *)(r2 - 1)\nout:\nexit")
    assert set(verdicts(code, SCHED).values()) == {Verdict.PROVED}


def test_tracing_reads_are_proved() -> None:
    code = "r0 = *(u64 *)(r1 + 56)\nr2 = *(u8 *)(r1 + 63)\nr0 += r2\nexit"
    assert set(verdicts(code, TRACING).values()) == {Verdict.PROVED}


def test_verifier_does_not_rely_on_runtime_field_values() -> None:
    # At run time mark is 0, so the load below never runs; the verifier must not assume it.
    code = ("r2 = *(u32 *)(r1 + 8)\nif r2 == 0 goto out\nr3 = *(u32 *)(r1 + 76)\n"
            "r0 = *(u8 *)(r3 + 0)\nexit\nout:\nr0 = 0\nexit")
    assert memory(code, SCHED) is not Verdict.PROVED


# -- properties -----------------------------------------------------------------------

accesses = st.tuples(st.sampled_from(sorted(CONTEXTS)), st.integers(-8, 200),
                     st.sampled_from([1, 2, 4, 8]), st.booleans())


@settings(max_examples=150, deadline=None, derandomize=True)
@given(accesses)
def test_runtime_context_access_follows_the_spec(access: tuple[str, int, int, bool]) -> None:
    name, offset, size, write = access
    context = CONTEXTS[name]
    width = SIZES[size]
    code = (f"*({width} *)(r1 {offset:+d}) = 0\nr0 = 0\nexit" if write else
            f"r0 = *({width} *)(r1 {offset:+d})\nexit")
    result = execute_in_context(assemble(code), context, packet=bytes(64)
                                if context.layout.has_packet else b"")
    allowed = is_access_allowed(context.layout, offset, size, write=write)
    assert (result.fault is None) == allowed, (name, offset, size, write, result.fault)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(accesses)
def test_verifier_context_access_follows_the_spec(access: tuple[str, int, int, bool]) -> None:
    name, offset, size, write = access
    context = CONTEXTS[name]
    width = SIZES[size]
    code = (f"*({width} *)(r1 {offset:+d}) = 0\nr0 = 0\nexit" if write else
            f"r0 = *({width} *)(r1 {offset:+d})\nexit")
    allowed = is_access_allowed(context.layout, offset, size, write=write)
    got = memory(code, context)
    assert got is (Verdict.PROVED if allowed else Verdict.REFUTED), (name, offset, size, write)


@settings(max_examples=40, deadline=None, derandomize=True)
@given(st.integers(0, 40), st.integers(0, 40), st.sampled_from([1, 2, 4, 8]),
       st.sampled_from(["r", "w"]), st.integers(0, 40))
def test_proved_packet_programs_never_fault(checked: int, offset: int, size: int,
                                            width: str, length: int) -> None:
    """A check of ``checked`` bytes guards a read at ``offset``: PROVED iff in bounds."""
    code = ("r2 = *(u32 *)(r1 + 0)\nr3 = *(u32 *)(r1 + 4)\nr4 = r2\n"
            f"r4 += {checked}\nif {width}4 > {width}3 goto out\n"
            f"r0 = *({SIZES[size]} *)(r2 + {offset})\nexit\nout:\nr0 = 2\nexit")
    got = memory(code, XDP)
    assert got is (Verdict.PROVED if offset + size <= checked else Verdict.REFUTED)
    result = execute_in_context(assemble(code), XDP, packet=bytes(length))
    if got is Verdict.PROVED:
        assert result.fault is None
    else:
        assert (result.fault is None) == (length < checked or offset + size <= length)


def test_docs_page_lists_every_field_and_rule() -> None:
    import importlib.util
    from pathlib import Path

    from arspec.spec.contexts import LINUX_RULES

    path = Path(__file__).resolve().parent.parent / "docs" / "generate.py"
    spec = importlib.util.spec_from_file_location("arspec_docs_generate_contexts", path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    text = module.render_contexts()
    for context in CONTEXTS.values():
        assert f"``{context.layout.program_type.value}``" in text
        for field in context.layout.fields:
            assert f"``{field.name}``" in text
    for rule in LINUX_RULES:
        assert f"``{rule}``" in text


@st.composite
def xdp_programs(draw: st.DrawFn) -> str:
    """A random XDP program: checks of the packet against data_end, then accesses."""
    lines = ["r2 = *(u32 *)(r1 + 0)", "r3 = *(u32 *)(r1 + 4)", "r9 = *(u32 *)(r1 + 8)"]
    for block in range(draw(st.integers(1, 3))):
        base = draw(st.sampled_from(["r2", "r9"]))
        bound = draw(st.integers(0, 24))
        width = draw(st.sampled_from(["r", "w"]))
        cond = draw(st.sampled_from([f"if {width}4 > {width}3 goto skip{block}",
                                     f"if {width}3 < {width}4 goto skip{block}",
                                     f"if {width}4 <= {width}3 goto ok{block}"]))
        lines += [f"r4 = {base}", f"r4 += {bound}", cond]
        if "ok" in cond:
            lines += [f"goto skip{block}", f"ok{block}:"]
        for _ in range(draw(st.integers(1, 2))):
            size = draw(st.sampled_from([1, 2, 4, 8]))
            offset = draw(st.integers(-2, 24))
            if draw(st.booleans()):
                lines.append(f"r0 = *({SIZES[size]} *)({base} {offset:+d})")
            else:
                lines.append(f"*({SIZES[size]} *)({base} {offset:+d}) = 7")
        lines.append(f"skip{block}:")
    return "\n".join([*lines, "r0 = 2", "exit"]) + "\n"


@settings(max_examples=60, deadline=None, derandomize=True)
@given(xdp_programs(), st.lists(st.integers(0, 40), min_size=3, max_size=3))
def test_random_xdp_programs_proved_never_fault(code: str, lengths: list[int]) -> None:
    """PROVED packet programs never fault; a memory REFUTED finding always replayed."""
    program = assemble(code)
    report = verify_program(program, context=XDP)
    verdict = report.verdicts[Property.MEMORY]
    for finding in report.findings:
        if finding.verdict is Verdict.REFUTED:
            assert finding.counterexample is not None and finding.counterexample.replayed
    if verdict is Verdict.PROVED:
        for length in lengths:
            packet = bytes(range(length))
            assert execute_in_context(program, XDP, packet=packet).fault is None, length


def test_counterexamples_use_the_runtime_field_values() -> None:
    """A fault reached only for len == 20 and protocol == IPv4 is refuted and replays.

    The verifier's realisable facts must give len and protocol the runtime's values (from
    the packet), or the model would not replay.
    """
    code = ("r2 = *(u32 *)(r1 + 0)\nif r2 != 20 goto out\nr3 = *(u32 *)(r1 + 16)\n"
            "if r3 != 0x0008 goto out\nr4 = 0\nr0 = *(u8 *)(r4 + 0)\nexit\nout:\nr0 = 0\nexit")
    report = verify_program(assemble(code), context=SCHED)
    found = [f for f in report.findings if f.verdict is Verdict.REFUTED]
    assert [f.pc for f in found] == [5]
    cx = found[0].counterexample
    assert cx is not None and cx.replayed
    assert len(cx.input) == 20 and cx.input[12:14] == b"\x08\x00"
