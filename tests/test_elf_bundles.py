"""Bundles whose programs are C objects: maps come from the object's .maps and BTF."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

import arspec.reference.runtime.runtime  # noqa: F401 - installs the ELF map reader bundles use
from arspec.cli import main as cli
from arspec.spec.loader import BundleError, load_bundle
from tests.test_elf import compile_bpf

HERE = Path(__file__).resolve().parent / "elf_bundles"


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("elfbundle")
    compile_bpf(HERE / "counter.c", out)
    shutil.copy(HERE / "counter.yaml", out / "counter.yaml")
    return out


def _bundle(folder: Path, maps: str, name: str = "b.yaml") -> Path:
    text = (HERE / "counter.yaml").read_text().replace("programs:\n", maps + "programs:\n")
    path = folder / name
    path.write_text(text)
    return path


def test_maps_come_from_the_object(folder: Path) -> None:
    bundle = load_bundle(folder / "counter.yaml")
    counters, ticks = bundle.maps["counters"], bundle.maps["ticks"]
    assert (counters.type.value, counters.key_size, counters.value_size,
            counters.max_entries) == ("array", 4, 16, 4)
    assert (ticks.type.value, ticks.key_size, ticks.value_size, ticks.max_entries,
            ticks.timer) == ("hash", 8, 24, 8, 8)


def test_run_uses_the_object_maps(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code = cli.main(["run", str(folder / "counter.yaml")])
    out = capsys.readouterr().out
    assert code == 0
    assert "  counters[0]: 0300000000000000" in out  # hits == 3 after three slots


def test_matching_declaration_loads(folder: Path) -> None:
    path = _bundle(folder, "maps:\n  counters: {type: array, value_size: 16, max_entries: 4,"
                           " fields: {hits: {offset: 0}}}\n")
    assert load_bundle(path).maps["counters"].fields["hits"].offset == 0


@pytest.mark.parametrize(("declaration", "message"), [
    ("counters: {type: array, value_size: 2, max_entries: 4}",
     ":7:39: error: maps.counters.value_size: 2 in the bundle, but counter.o defines 16"),
    ("counters: {type: hash, key_size: 4, value_size: 16, max_entries: 4}",
     ":7:20: error: maps.counters.type: hash in the bundle, but counter.o defines array"),
    ("counters: {type: array, value_size: 16, max_entries: 5}",
     ":7:56: error: maps.counters.max_entries: 5 in the bundle, but counter.o defines 4"),
    ("ticks: {type: hash, key_size: 8, value_size: 24, max_entries: 8}",
     "maps.ticks.timer: none in the bundle, but counter.o defines 8"),
    ("ticks: {type: hash, key_size: 8, value_size: 24, max_entries: 8, timer: 0}",
     "maps.ticks.timer: 0 in the bundle, but counter.o defines 8"),
])
def test_invalid_declaration_that_disagrees_with_the_object(
        folder: Path, declaration: str, message: str) -> None:
    path = _bundle(folder, f"maps:\n  {declaration}\n")
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    assert message in str(info.value) and str(info.value).startswith(str(path))


def test_invalid_cli_exit_two_for_a_mismatch(folder: Path,
                                             capsys: pytest.CaptureFixture[str]) -> None:
    path = _bundle(folder, "maps:\n  counters: {type: array, value_size: 2, max_entries: 4}\n")
    for command in ("run", "verify", "explore"):
        assert cli.main([command, str(path)]) == 2
        err = capsys.readouterr().err
        assert "value_size: 2 in the bundle, but counter.o defines 16" in err


def test_invalid_object_is_a_load_error_at_the_elf_key(folder: Path) -> None:
    (folder / "junk.o").write_bytes(b"\x7fELF")
    path = folder / "junk.yaml"
    path.write_text((HERE / "counter.yaml").read_text().replace("elf: counter.o",
                                                                 "elf: junk.o"))
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    assert str(info.value).startswith(f"{path}:8:10: error: programs.count.elf: ")
    assert "64-bit" in str(info.value)


@pytest.fixture(scope="module")
def unchecked(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("unchecked")
    compile_bpf(HERE / "unchecked.c", out)
    shutil.copy(HERE / "unchecked.yaml", out / "unchecked.yaml")
    return out / "unchecked.yaml"


def _deref_line() -> int:
    lines = (HERE / "unchecked.c").read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if "/* DEREF */" in line)


def test_findings_name_the_c_file_and_line(unchecked: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    import json

    source = str(HERE / "unchecked.c")
    assert cli.main(["verify", str(unchecked)]) == 1
    out = capsys.readouterr().out
    assert f"Possible null pointer dereference (r0 != null) [REFUTED] at {source}:" \
           f"{_deref_line()}" in out
    assert cli.main(["verify", str(unchecked), "--format", "sarif"]) == 1
    log = json.loads(capsys.readouterr().out)
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location == {"artifactLocation": {"uri": source},
                        "region": {"startLine": _deref_line()}}


def test_line_info_of_every_instruction(folder: Path) -> None:
    from arspec.reference.isa.elf import load_program

    program = load_program(folder / "counter.o", "socket")
    lines = {line for _, line in program.source_lines.values()}
    files = {file for file, _ in program.source_lines.values()}
    assert files == {str(HERE / "counter.c")}
    assert set(program.source_lines) == {pc for pc, _ in program.program.instructions()} | {
        pc + 1 for pc, insn in program.program.instructions() if insn.__class__.__name__ ==
        "LoadImm64"}
    source = (HERE / "counter.c").read_text().splitlines()
    assert all(0 < line <= len(source) for line in lines)
    assert any("c->hits += 1" in source[line - 1] for line in lines)


def test_invalid_btf_maps_without_debug_info(tmp_path: Path) -> None:
    from arspec.reference.isa.elf import load_program
    from arspec.spec.errors import InputError

    obj = compile_bpf(HERE / "counter.c", tmp_path, debug=False)
    with pytest.raises(InputError, match=r"section \.maps needs a \.BTF section"):
        load_program(obj, "socket")


def test_global_data_becomes_bundle_maps(tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    from tests.test_elf import C_DIR

    compile_bpf(C_DIR / "globals.c", tmp_path)
    path = tmp_path / "globals.yaml"
    path.write_text("arspec: 1\nprofile: linux\nprograms:\n"
                    "  g: {elf: globals.o, hook: {on: startup}}\n")
    bundle = load_bundle(path)
    assert list(bundle.maps) == ["_rodata", "_data", "_bss"]
    assert bundle.maps["_data"].value_size == 4 and bundle.maps["_data"].init[0].value == \
        bytes([2, 0, 0, 0])
    assert cli.main(["run", str(path)]) == 0
    out = capsys.readouterr().out
    assert "  _bss[0]: 2a000000" in out  # scratch = counter + limit = 2 + 40


def test_bundle_names_of_global_data_sections() -> None:
    from arspec.reference.isa.elf import get_bundle_map_name

    assert [get_bundle_map_name(n) for n in (".bss", ".rodata.str1.1", "counters")] == \
        ["_bss", "_rodata_str1_1", "counters"]
