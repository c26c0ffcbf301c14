"""Regression tests for crashes and runaway inputs (issue 15): each once ended in a traceback,
an exit code that looked like a verdict, or unbounded memory."""

from __future__ import annotations

import os
import struct
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from arspec.cli import exit_codes
from arspec.cli import main as cli
from arspec.cli.commands import explore as explore_command
from arspec.cli.commands import program as program_command
from arspec.reference.isa.elf import MAX_GLOBAL_DATA_SIZE, load_elf
from arspec.spec.bundle import MAX_EXPRESSION_DEPTH, ExpressionError, parse_expression
from arspec.spec.errors import InputError
from arspec.spec.loader import BundleError, load_bundle, load_bundle_text
from tests.test_elf import C_DIR, compile_bpf

ROOT = Path(__file__).resolve().parent.parent
HEARTBEAT = ROOT / "examples" / "heartbeat.yaml"
RINGBUF = ROOT / "examples" / "broken_ringbuf_overflow.yaml"


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    code = cli.main(argv)
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def _one_line(err: str) -> str:
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    return lines[0]


# --------------------------------------------------------------------------- bundle text


@pytest.mark.parametrize("raw", [b"\x01", b"\x00", b"a: 1\nb: \x02\n", b"\x7f", b"\xef\xbf\xbe"])
def test_invalid_control_characters_are_located_yaml_errors(tmp_path: Path, raw: bytes) -> None:
    path = tmp_path / "b.yaml"
    path.write_bytes(raw)
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    message = str(info.value)
    assert message.startswith(f"{path}:") and "is not allowed in YAML text" in message
    assert "\n" not in message


def test_invalid_control_character_cli_exit_two(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "one.yaml"
    path.write_bytes(b"\x01")
    code, _, err = run(["verify", str(path)], capsys)
    assert code == 2
    assert _one_line(err) == (f"{path}:1:1: error: invalid YAML: character #x0001 is not "
                              "allowed in YAML text")


@pytest.mark.parametrize("value", ["[]", "{}", "[array]", "{a: 1}", "1", "null", "true"])
def test_invalid_map_type_of_any_yaml_kind(value: str) -> None:
    text = HEARTBEAT.read_text().replace("    type: array", f"    type: {value}")
    with pytest.raises(BundleError) as info:
        load_bundle_text(text, filename="b.yaml")
    assert any("maps.hb.type" in d.reason for d in info.value.diagnostics)


def test_dev_zero_is_refused_after_the_size_limit(capsys: pytest.CaptureFixture[str]) -> None:
    if not os.path.exists("/dev/zero"):
        pytest.fail("/dev/zero is missing")
    with pytest.raises(BundleError, match="larger than 4194304 bytes"):
        load_bundle("/dev/zero")
    for argv in (["verify", "/dev/zero"], ["run", "/dev/zero"], ["explore", "/dev/zero"],
                 ["exec", "/dev/zero"], ["disasm", "/dev/zero"], ["asm", "/dev/zero"]):
        code, _, err = run(argv, capsys)
        assert code == 2, argv
        assert "/dev/zero: error:" in _one_line(err) and "larger than" in err


def test_invalid_fifo_is_refused_without_blocking(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.yaml"
    os.mkfifo(fifo)
    with pytest.raises(BundleError, match="is a pipe or socket"):
        load_bundle(fifo)


def test_bundle_at_the_size_limit_is_read() -> None:
    text = HEARTBEAT.read_text()
    bundle = load_bundle_text(text + "#" * 100 + "\n", filename="b.yaml")
    assert "hb" in bundle.maps


# --------------------------------------------------------------------------- expressions


@pytest.mark.parametrize("prefix", ["-", "+", "~", "not ", "(-"])
def test_invalid_deeply_nested_expression(prefix: str) -> None:
    text = prefix * 1000 + "a.b" + (")" * 1000 if prefix == "(-" else "")
    with pytest.raises(ExpressionError, match=r"nesting deeper than|limited to"):
        parse_expression(text)


def test_invalid_deep_expression_in_bundle_is_a_load_error(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = RINGBUF.read_text().replace('expr: "stats.dropped == 0"',
                                       'expr: "' + "-" * 990 + 'stats.dropped == 0"')
    path = tmp_path / "deep.yaml"
    path.write_text(text)
    code, _, err = run(["explore", str(path)], capsys)
    assert code == 2
    assert "properties.invariants.0.expr: nesting deeper than" in _one_line(err)


def test_invalid_expression_longer_than_the_limit() -> None:
    with pytest.raises(ExpressionError, match="limited to 1024 characters"):
        parse_expression(" + ".join(["a.b"] * 300))


def test_expression_at_the_depth_limit_parses() -> None:
    parse_expression("-" * (MAX_EXPRESSION_DEPTH - 2) + "a.b")
    with pytest.raises(ExpressionError):
        parse_expression("-" * MAX_EXPRESSION_DEPTH + "a.b")


# --------------------------------------------------------------------------- ELF headers


@pytest.fixture(scope="module")
def globals_object(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return compile_bpf(C_DIR / "globals.c", tmp_path_factory.mktemp("bpf"))


def _headers(path: Path) -> tuple[int, int]:
    with path.open("rb") as f:
        elf = ELFFile(f)
        return int(elf["e_shoff"]), int(elf["e_shnum"])


def _patch_section(path: Path, out: Path, index: int, field: int, value: int) -> Path:
    """Overwrite one 64-bit field (24: sh_offset, 32: sh_size) of section header ``index``."""
    shoff, _ = _headers(path)
    data = bytearray(path.read_bytes())
    struct.pack_into("<Q", data, shoff + index * 64 + field, value)
    out.write_bytes(bytes(data))
    return out


@pytest.mark.parametrize("value", [1 << 63, (1 << 64) - 1, 1 << 40])
@pytest.mark.parametrize("field", [24, 32])
def test_invalid_section_offset_or_size_beyond_the_file(globals_object: Path, tmp_path: Path,
                                                        field: int, value: int) -> None:
    with globals_object.open("rb") as f:
        kinds = [section["sh_type"] for section in ELFFile(f).iter_sections()]
    for index in range(1, len(kinds)):
        if kinds[index] == "SHT_NOBITS" and field == 24:
            continue  # .bss has no bytes in the file: its offset is never followed
        bad = _patch_section(globals_object, tmp_path / f"bad{index}.o", index, field, value)
        with pytest.raises(InputError, match="malformed ELF file") as info:
            load_elf(bad)
        assert str(bad) in str(info.value)


def test_invalid_section_header_table_offset(globals_object: Path, tmp_path: Path) -> None:
    data = bytearray(globals_object.read_bytes())
    for value in (1 << 63, (1 << 64) - 1, len(data)):
        struct.pack_into("<Q", data, 0x28, value)
        bad = tmp_path / "shoff.o"
        bad.write_bytes(bytes(data))
        with pytest.raises(InputError, match="section header table"):
            load_elf(bad)


def _section_index(path: Path, name: str) -> int:
    with path.open("rb") as f:
        for index, section in enumerate(ELFFile(f).iter_sections()):
            if section.name == name:
                return index
    raise AssertionError(name)


def test_invalid_huge_bss_is_refused_without_allocating(globals_object: Path,
                                                        tmp_path: Path) -> None:
    index = _section_index(globals_object, ".bss")
    bad = _patch_section(globals_object, tmp_path / "bss.o", index, 32, 1 << 36)
    with pytest.raises(InputError, match="SHT_NOBITS"):
        load_elf(bad)


def test_bss_at_the_limit_loads(globals_object: Path, tmp_path: Path) -> None:
    index = _section_index(globals_object, ".bss")
    ok = _patch_section(globals_object, tmp_path / "bss.o", index, 32, MAX_GLOBAL_DATA_SIZE)
    sizes = {d.name: d.value_size for d in load_elf(ok).map_definitions}
    assert sizes[".bss"] == MAX_GLOBAL_DATA_SIZE


# --------------------------------------------------------------------------- CLI


@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "1e308", "0", "-1", "1e7", "abc", ""])
def test_invalid_timeout(value: str, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["verify", str(HEARTBEAT), "--timeout", value], capsys)
    assert code == 2
    assert "argument --timeout" in _one_line(err)


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        cli.main(["--version"])
    assert info.value.code == 0
    assert capsys.readouterr().out.startswith("spec-check ")


def _crash(args: object, out: object) -> int:
    raise ZeroDivisionError("boom")


def test_internal_error_has_its_own_exit_code(monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(program_command, "run_disasm", _crash)
    code, _, err = run(["disasm", "prog.bin"], capsys)
    assert code == exit_codes.EXIT_INTERNAL == 4
    line = _one_line(err)
    assert line.startswith("prog.bin: internal error in disasm (")
    assert "ZeroDivisionError: boom" in line and "--debug" in line


def test_internal_error_traceback_with_debug(monkeypatch: pytest.MonkeyPatch,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(program_command, "run_disasm", _crash)
    code, _, err = run(["disasm", "--debug", "prog.bin"], capsys)
    assert code == exit_codes.EXIT_INTERNAL
    assert "Traceback" in err and err.strip().splitlines()[-1].startswith("prog.bin: internal")


def test_out_of_memory_is_an_internal_error_not_a_verdict(
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    def oom(args: object, out: object) -> int:
        raise MemoryError

    monkeypatch.setattr(program_command, "run_exec", oom)
    code, _, err = run(["exec", "x.s"], capsys)
    assert code == exit_codes.EXIT_INTERNAL
    assert "out of memory" in _one_line(err)


def test_internal_error_never_exits_one() -> None:
    assert exit_codes.EXIT_INTERNAL not in (exit_codes.EXIT_OK, exit_codes.EXIT_FAILED,
                                            exit_codes.EXIT_USAGE, exit_codes.EXIT_INCONCLUSIVE)


# --------------------------------------------------------------------------- lazy arrays


def _big_array(entries: int = 1 << 24, kind: str = "ARRAY") -> object:
    from dataclasses import replace

    from arspec.spec.maps import MapDef, MapType, create_map_state
    from arspec.spec.presets import get_preset
    from arspec.spec.types import MapId

    defn = MapDef(MapId("big"), MapType[kind], 4, 24, entries)
    return create_map_state(defn, replace(get_preset("linux_like"), max_map_entries=1 << 24))


def test_array_of_2_24_entries_stores_only_what_is_used() -> None:
    import tracemalloc

    from arspec.spec.maps import BPF_ANY, process_map_lookup, process_map_update

    tracemalloc.start()
    state = _big_array()
    assert len(state.elements) == 0  # type: ignore[attr-defined]
    last = ((1 << 24) - 1).to_bytes(4, "little")
    element = process_map_lookup(state, last)  # type: ignore[arg-type]
    assert element is not None and bytes(element.value) == bytes(24)
    assert process_map_update(state, (5).to_bytes(4, "little"), b"\x07" * 24,  # type: ignore[arg-type]
                              BPF_ANY) == 0
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 1 << 20
    assert len(state.elements) == 2  # type: ignore[attr-defined]
    assert process_map_lookup(state, (1 << 24).to_bytes(4, "little")) is None  # type: ignore[arg-type]


def test_untouched_and_read_array_elements_are_the_same_state() -> None:
    import pickle

    from arspec.spec.maps import ArrayElements, process_map_lookup
    from arspec.spec.state import compute_map_key, copy_map

    for kind in ("ARRAY", "PERCPU_ARRAY"):
        untouched, read = _big_array(8, kind), _big_array(8, kind)
        assert process_map_lookup(read, (3).to_bytes(4, "little")) is not None  # type: ignore[arg-type]
        assert compute_map_key(untouched) == compute_map_key(read)  # type: ignore[arg-type]
        written = copy_map(read)  # type: ignore[arg-type]
        assert isinstance(written.elements, ArrayElements)
        written.elements[(3).to_bytes(4, "little")][0].value[0] = 1
        assert compute_map_key(written) != compute_map_key(read)  # type: ignore[arg-type]
        again = pickle.loads(pickle.dumps(written))
        assert compute_map_key(again) == compute_map_key(written)
        assert (7).to_bytes(4, "little") in again.elements


def test_run_and_explore_an_array_of_2_24_entries(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "big.yaml"
    path.write_text(HEARTBEAT.read_text().replace("    max_entries: 1\n",
                                                  "    max_entries: 16777216\n"))
    code, out, _ = run(["run", str(path), "--slots", "12"], capsys)
    assert code == 0 and "timer hb[00000000] expired at slot 10" in out
    code, out, _ = run(["explore", str(path), "--slots", "2", "--no-timing"], capsys)
    assert code == 0 and "verdict: HOLDS" in out


# --------------------------------------------------------------------------- state bounds

RING = ROOT / "examples" / "broken_ringbuf_overflow.yaml"


def _ring(size: int) -> str:
    return RING.read_text().replace("  feed: {type: ringbuf, max_entries: 4096}",
                                    f"  feed: {{type: ringbuf, max_entries: {size}}}")


@pytest.mark.parametrize("size", [1 << 25, 1 << 32, 1 << 40])
def test_invalid_ring_buffer_larger_than_the_limit(size: int) -> None:
    with pytest.raises(BundleError) as info:
        load_bundle_text(_ring(size), filename="b.yaml")
    assert f"maps.feed.max_entries: ringbuf max_entries ({size}) must be <= 16777216" in \
        str(info.value)


def test_invalid_sixty_accounts_of_ten_mib(capsys: pytest.CaptureFixture[str],
                                           tmp_path: Path) -> None:
    accounts = "accounts:\n" + "".join(f"  a{i}: {{size: 10485760}}\n" for i in range(60))
    path = tmp_path / "accounts.yaml"
    path.write_text(HEARTBEAT.read_text().replace("maps:\n", accounts + "maps:\n", 1))
    for command in ("explore", "run", "verify"):
        code, _, err = run([command, str(path)], capsys)
        assert code == 2, command
        assert "accounts and ring buffers hold 629145600 bytes; a bundle may hold at most " \
               "67108864" in _one_line(err)


def test_invalid_explore_of_a_16_mib_ring(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ring.yaml"
    path.write_text(_ring(1 << 24))
    for argv in (["explore", str(path)], [str(path)]):
        code, out, err = run(argv, capsys)
        assert code == 2 and out == ""
        assert "explorer would copy into every state; it accepts at most 1048576" in \
            _one_line(err)
    code, out, _ = run(["run", str(path), "--slots", "2"], capsys)
    assert code == 0 and "account stats: sent = " in out
    code, _, _ = run([str(path), "--no-explore", "--timeout", "20"], capsys)
    assert code == 0


def test_explore_of_a_ring_at_the_explore_limit(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "ring.yaml"
    path.write_text(_ring(1 << 19))
    code, out, _ = run(["explore", str(path), "--slots", "1", "--no-timing"], capsys)
    assert code == 0 and "verdict: HOLDS" in out  # a ring this big never drops here


def test_plugin_internal_error_exits_four(monkeypatch: pytest.MonkeyPatch,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    from arspec.reference.differential import plugin

    def crash(*args: object) -> int:
        raise ZeroDivisionError("boom")

    monkeypatch.setattr(plugin, "run", crash)
    assert plugin.main([]) == 4
    assert _one_line(capsys.readouterr().err) == \
        "arspec-bpf-plugin: internal error: ZeroDivisionError: boom"


def _with_domains(values: int, keys: int = 3) -> str:
    fields = ", ".join(f"f{i}: {{offset: {8 * i}}}" for i in range(keys))
    domains = "".join(f"    feed.f{i}: {{values: [{', '.join(str(v) for v in range(values))}]}}\n"
                      for i in range(keys))
    text = HEARTBEAT.read_text().replace(
        "maps:\n", f"accounts:\n  feed: {{size: {8 * keys}, fields: {{{fields}}}}}\nmaps:\n", 1)
    return text.replace("scenario:\n", f"scenario:\n  domains:\n{domains}", 1)


def test_invalid_replica_precheck_too_costly_is_refused_at_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import time

    path = tmp_path / "domains.yaml"
    path.write_text(_with_domains(64))
    for argv in (["explore", str(path), "--max-states", "1000", "--max-depth", "1"],
                 [str(path)]):
        start = time.monotonic()
        code, out, err = run(argv, capsys)
        assert code == 2 and out == ""
        assert "replica-determinism check apply up to 4767744 writes in every state; it " \
               "accepts at most 100000" in _one_line(err)
        assert time.monotonic() - start < 10


def test_replica_precheck_of_small_domains_runs(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "domains.yaml"
    path.write_text(_with_domains(2))
    code, out, _ = run(["explore", str(path), "--slots", "1", "--no-timing"], capsys)
    assert code in (0, 3) and "replica_determinism" in out


def test_replica_write_bound() -> None:
    writes = explore_command.compute_replica_writes
    assert writes([64, 64, 64], 4) == 3 * 64 * 64 * 2 * 2 + 64**3 * 6 * 3
    assert writes([5], 4) == 0
    assert writes([2] * 6, 4) == writes([2] * 4, 4)


# --------------------------------------------------------------------------- huge numbers

_DIGITS = "9" * 5000


@pytest.mark.parametrize("number", [_DIGITS, "0x" + "f" * 5000, "-" + _DIGITS, _DIGITS + ".5",
                                    "1" * 101])
def test_invalid_number_too_long_in_a_bundle(number: str) -> None:
    text = HEARTBEAT.read_text().replace("    max_entries: 1\n", f"    max_entries: {number}\n")
    with pytest.raises(BundleError, match="characters is too long"):
        load_bundle_text(text, filename="b.yaml")


def test_number_of_a_hundred_characters_is_read() -> None:
    text = HEARTBEAT.read_text().replace("    max_entries: 1\n", f"    max_entries: {'1' * 100}\n")
    with pytest.raises(BundleError, match="max_entries"):  # out of range, but read
        load_bundle_text(text, filename="b.yaml")


@pytest.mark.parametrize("source", [f"r0 = {_DIGITS}\nexit\n", f"mov r0, {_DIGITS}\nexit\n",
                                    f"r0 = 0x{'f' * 5000} ll\nexit\n", f"r{_DIGITS} = 1\nexit\n"])
def test_invalid_number_too_long_in_assembly(tmp_path: Path, source: str,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "big.s"
    path.write_text(source)
    code, _, err = run(["asm", str(path)], capsys)
    assert code == 2 and _one_line(err).startswith(f"{path}:1:")


def test_invalid_number_too_long_in_a_trace(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "t.json"
    path.write_text('{"format": "arspec-trace", "slots": ' + _DIGITS + "}")
    code, _, err = run(["replay", str(path)], capsys)
    assert code == 2 and "not a JSON trace" in _one_line(err)


@pytest.mark.parametrize("flag", ["--slots", "--max-states", "--max-depth"])
def test_invalid_huge_flag_value_is_shown_short(flag: str,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["explore", str(HEARTBEAT), flag, _DIGITS], capsys)
    assert code == 2 and len(_one_line(err)) < 200


@pytest.mark.parametrize("section", ["maps", "programs", "accounts"])
def test_invalid_more_than_1024_named_items(section: str) -> None:
    items = {"maps": "  m{i}: {{type: array, value_size: 8, max_entries: 1}}",
             "programs": "  p{i}: {{hook: {{on: startup}}, code: \"exit\"}}",
             "accounts": "  a{i}: {{size: 8}}"}
    body = "\n".join(items[section].format(i=i) for i in range(1025))
    text = f"arspec: 1\n{section}:\n{body}\n"
    if section != "programs":
        text += "programs:\n  p: {hook: {on: startup}, code: \"exit\"}\n"
    with pytest.raises(BundleError, match=f"{section}: dictionary should have at most 1024 items"):
        load_bundle_text(text, filename="b.yaml")
