"""Run every ``tests/conformance/**/*.data`` vector through the conformance runner, and test
the ``.data`` parser and runner themselves (malformed files, mismatch reporting)."""

from __future__ import annotations

from pathlib import Path

import pytest
from known_exceptions import KNOWN_EXCEPTIONS

from arspec.reference.differential.conformance import (
    DEFAULT_INSN_LIMIT,
    find_data_files,
    parse_data_file,
    parse_data_text,
    run_case,
)
from arspec.spec.errors import InputError

ROOT = Path(__file__).parent / "conformance"
FILES = find_data_files(ROOT)
IDS = [p.relative_to(ROOT).as_posix() for p in FILES]
AREAS = ("alu64", "alu32", "divmod", "shift", "movsx", "endian", "jmp", "jmp32", "mem",
         "memsx", "atomic", "lddw", "call", "exit", "errors", "solana")


def _params() -> list[object]:
    params: list[object] = []
    for path, ident in zip(FILES, IDS, strict=True):
        marks = []
        if ident in KNOWN_EXCEPTIONS:
            marks.append(pytest.mark.xfail(reason=KNOWN_EXCEPTIONS[ident], strict=True))
        params.append(pytest.param(path, id=ident, marks=marks))
    return params


@pytest.mark.parametrize("engine", ["interpreter", "fast"])
@pytest.mark.parametrize("path", _params())
def test_vector(path: Path, engine: str) -> None:
    case = parse_data_file(path)
    outcome = run_case(case, engine=engine)
    assert outcome.passed, outcome.message


def test_vector_inventory() -> None:
    assert len(FILES) >= 250
    folders = {p.relative_to(ROOT).parts[0] for p in FILES}
    assert folders == set(AREAS)
    for area in AREAS:
        assert sum(1 for i in IDS if i.startswith(area + "/")) >= 5, area
    cases = [parse_data_file(p) for p in FILES]
    assert sum(c.expects_error for c in cases) >= 60
    assert sum("solana" in c.profiles for c in cases) >= 60
    assert all(p.name.startswith("err-") for p in (ROOT / "errors").glob("*.data"))
    assert set(KNOWN_EXCEPTIONS) <= set(IDS)


# --------------------------------------------------------------------------- parser


def test_parse_all_sections(tmp_path: Path) -> None:
    path = tmp_path / "full.data"
    path.write_text(
        "# a comment\n-- asm\nmov %r0, 1 # trailing\nexit\n-- mem\n00 0x01\nff\n"
        "-- result\n-1\n-- profile\nboth\n-- insn-count\n2\n-- insn-limit\n9\n-- no jit\n"
    )
    case = parse_data_file(path)
    assert case.name == "full"
    assert case.mem == b"\x00\x01\xff"
    assert case.result == (1 << 64) - 1
    assert case.profiles == ("linux", "solana")
    assert (case.insn_count, case.insn_limit) == (2, 9)
    assert case.asm is not None and "exit" in case.asm
    assert case.asm_line == 3
    assert not case.expects_error
    assert run_case(case).passed is False  # r0 is 1, not -1


def test_parse_defaults() -> None:
    case = parse_data_text("-- raw\n0x95\n-- error\nboom # not a comment\n", path="x.data")
    assert case.raw == (0x95,)
    assert case.raw_bytes() == bytes([0x95, 0, 0, 0, 0, 0, 0, 0])
    assert case.profiles == ("linux",)
    assert case.error == "boom # not a comment"
    assert case.insn_limit == DEFAULT_INSN_LIMIT
    assert case.result is None and case.expects_error


@pytest.mark.parametrize(("text", "line", "fragment"), [
    ("-- asm\nexit\n-- resutl\n1\n", 3, "unknown section"),
    ("-- asm\nexit\n-- result\n1\n-- result\n2\n", 5, "repeated"),
    ("exit\n-- asm\nexit\n-- result\n0\n", 1, "before the first"),
    ("-- raw\n0xzz\n-- result\n0\n", 2, "invalid raw instruction word"),
    ("-- raw\n0x1ffffffffffffffff\n-- result\n0\n", 2, "64 bits"),
    ("-- asm\nexit\n-- mem\n00 123\n-- result\n0\n", 4, "invalid memory byte"),
    ("-- asm\nexit\n-- mem\n0g\n-- result\n0\n", 4, "invalid memory byte"),
    ("-- asm\nexit\n-- result\n1\n2\n", 5, "more than one result"),
    ("-- asm\nexit\n-- result\nlots\n", 4, "invalid result"),
    ("-- asm\nexit\n-- profile\nwindows\n-- result\n0\n", 4, "unknown profile"),
    ("-- asm\nexit\n-- insn-count\n-1\n-- result\n0\n", 4, "negative"),
    ("-- asm\nexit\n-- insn-limit\n0\n-- result\n0\n", 4, "positive"),
    ("-- result\n0\n", 2, "no program"),
    ("-- asm\n# only a comment\n-- result\n0\n", 4, "no program"),
    ("-- asm\nexit\n", 2, "no expectation"),
    ("-- asm\nexit\n-- error pattern\n(unclosed\n", 3, "invalid error pattern"),
    ("-- asm\nexit\n-- error\na\nb\n", 3, "more than one line"),
    ("-- asm\nexit\n-- error\nx\n-- insn-count\n1\n", 5, "insn-count"),
])
def test_parse_errors(text: str, line: int, fragment: str) -> None:
    with pytest.raises(InputError) as info:
        parse_data_text(text, path="bad.data")
    assert info.value.file == "bad.data"
    assert info.value.line == line
    assert fragment in info.value.reason
    assert str(info.value).startswith(f"bad.data:{line}: error: ")


def test_parse_unreadable(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read"):
        parse_data_file(tmp_path / "missing.data")
    binary = tmp_path / "bin.data"
    binary.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(InputError, match="not UTF-8"):
        parse_data_file(binary)


# --------------------------------------------------------------------------- runner


def test_runner_reports_wrong_result() -> None:
    case = parse_data_text("-- asm\nmov %r0, 2\nexit\n-- result\n3\n")
    outcome = run_case(case)
    assert not outcome.passed
    assert "expected r0 = 0x3, got r0 = 0x2" in outcome.message
    assert outcome.runs[0].r0 == 2


def test_runner_reports_wrong_count() -> None:
    case = parse_data_text("-- asm\nmov %r0, 2\nexit\n-- result\n2\n-- insn-count\n3\n")
    outcome = run_case(case)
    assert not outcome.passed
    assert "expected 3 executed instructions, got 2" in outcome.message


def test_runner_reports_unexpected_fault_and_missing_fault() -> None:
    faulting = parse_data_text("-- asm\nldxb %r0, [%r1+0]\nexit\n-- result\n0\n")
    outcome = run_case(faulting)
    assert not outcome.passed and "memory fault at pc 0" in outcome.message
    clean = parse_data_text("-- asm\nexit\n-- error\nmemory fault\n")
    outcome = run_case(clean)
    assert not outcome.passed and "expected an error, got r0 = 0x0" in outcome.message


def test_runner_reports_wrong_error_text() -> None:
    case = parse_data_text("-- asm\nldxb %r0, [%r1+0]\nexit\n-- error\nat pc 1\n")
    assert "expected an error containing 'at pc 1'" in run_case(case).message
    case = parse_data_text("-- asm\nldxb %r0, [%r1+0]\nexit\n-- error pattern\n^division\n")
    assert "expected an error matching /^division/" in run_case(case).message


def test_runner_profile_both_names_the_failing_profile() -> None:
    text = "-- profile\nboth\n-- asm\nmov %r0, 1\nmov %r1, 0\ndiv %r0, %r1\nexit\n-- result\n0\n"
    outcome = run_case(parse_data_text(text))
    assert not outcome.passed
    assert outcome.message.startswith("[solana] ")
    assert "division by zero at pc 2" in outcome.message
    assert [r.profile for r in outcome.runs] == ["linux", "solana"]


def test_runner_load_errors_are_compared() -> None:
    asm = parse_data_text("-- asm\nmov %r0, 1\nbogus\n-- error pattern\nt.data:3\n",
                          path="t.data")
    assert run_case(asm).passed
    raw = parse_data_text("-- raw\n0x00\n-- result\n0\n")
    outcome = run_case(raw)
    assert not outcome.passed and "pc 0: unknown opcode" in outcome.message


def test_runner_asm_and_raw_must_agree() -> None:
    case = parse_data_text("-- asm\nmov %r0, 2\nexit\n-- raw\n0x00000001000000b7\n0x95\n"
                           "-- result\n1\n", path="both.data")
    outcome = run_case(case)
    assert not outcome.passed
    assert "both.data:2: error: '-- asm' and '-- raw' describe different programs" in (
        outcome.message)


def test_runner_insn_limit_stops_endless_loop() -> None:
    case = parse_data_text("-- asm\nja -1\n-- insn-limit\n50\n-- error\ninstruction limit\n")
    outcome = run_case(case)
    assert outcome.passed, outcome.message
    assert outcome.runs[0].instructions == 50
