"""ELF loading: real objects compiled from tests/c/*.c by clang at test time, and broken ones."""

from __future__ import annotations

import shutil
import struct
import subprocess
from pathlib import Path

import pytest
from elftools.elf.elffile import ELFFile

from arspec.reference.isa.decoder import decode
from arspec.reference.isa.elf import (
    BPF_F_RDONLY_PROG,
    ElfObject,
    load_elf,
    load_program,
)
from arspec.reference.isa.encoder import encode
from arspec.reference.isa.instructions import (
    Call,
    CallLocal,
    Exit,
    Jump,
    LoadImm64,
    Program,
    Pseudo,
)
from arspec.spec.errors import InputError

C_DIR = Path(__file__).parent / "c"
BPF_MAP_TYPE_HASH = 1
BPF_MAP_TYPE_ARRAY = 2


def _multiarch_include() -> list[str]:
    for tool in ("gcc", "clang"):
        if shutil.which(tool):
            out = subprocess.run([tool, "-print-multiarch"], capture_output=True, text=True)
            if out.returncode == 0 and out.stdout.strip():
                return [f"-I/usr/include/{out.stdout.strip()}"]
    return []


def compile_bpf(source: Path, out_dir: Path, *, debug: bool = True) -> Path:
    """Compile one C file with ``clang -target bpf``; fail (never skip) without clang."""
    clang = shutil.which("clang")
    if clang is None:
        pytest.fail("clang is not installed: .ci/run should have installed clang, llvm and "
                    "libbpf-dev (needed to build the BPF test objects)")
    out = out_dir / (source.stem + (".o" if debug else ".nog.o"))
    cmd = [clang, "-O2", *(["-g"] if debug else []), "-target", "bpf", "-c", str(source),
           "-o", str(out), *_multiarch_include()]
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        pytest.fail(f"{' '.join(cmd)} failed:\n{done.stderr}")
    return out


@pytest.fixture(scope="module")
def objects(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    out = tmp_path_factory.mktemp("bpf")
    return {src.stem: compile_bpf(src, out) for src in sorted(C_DIR.glob("*.c"))}


def _load(objects: dict[str, Path], name: str) -> ElfObject:
    return load_elf(objects[name])


def _calls(program: Program) -> list[tuple[int, int]]:
    """Return ``(pc, target)`` of every local call."""
    return [(pc, pc + 1 + insn.offset) for pc, insn in program.instructions()
            if isinstance(insn, CallLocal)]


def _run_vm(program: Program) -> int:
    from arspec.reference.vm.vm import execute

    result = execute(program, memory=bytes(64), engine="interpreter")
    assert result.fault is None, result.fault
    return result.r0


# ------------------------------------------------------------------ positive cases


def test_straight_line_program(objects: dict[str, Path]) -> None:
    obj = _load(objects, "straight")
    assert set(obj.programs) == {"socket"}
    prog = obj.programs["socket"]
    assert (prog.section, prog.name, obj.license) == ("socket", "straight", "GPL")
    assert obj.maps == () and prog.map_relocations == {}
    assert isinstance(prog.program.slots[-1], Exit)
    assert decode(encode(prog.program)) == prog.program
    assert _run_vm(prog.program) == 1234


def test_loop_program_has_a_back_edge_and_runs(objects: dict[str, Path]) -> None:
    prog = _load(objects, "loop").programs["socket"]
    back = [pc for pc, insn in prog.program.instructions()
            if isinstance(insn, Jump) and insn.offset < 0]
    assert back, "the loop was compiled without a backward jump"
    assert _run_vm(prog.program) == sum(i * i for i in range(30))


def test_subprogram_called_twice_is_laid_out_once(objects: dict[str, Path]) -> None:
    prog = _load(objects, "subprog").programs["socket"]
    calls = _calls(prog.program)
    assert len(calls) == 2
    main_end = max(pc for pc, insn in prog.program.instructions() if isinstance(insn, Exit)
                   and pc < calls[0][1])
    assert {target for _, target in calls} == {main_end + 1}
    assert _run_vm(prog.program) == (3 * 4 + 3 + 4) + (10 * 20 + 10 + 20)


def test_two_sections_each_get_only_the_functions_they_reach(objects: dict[str, Path]) -> None:
    obj = _load(objects, "twosections")
    assert set(obj.programs) == {"socket/first", "socket/second"}
    first, second = obj.programs["socket/first"], obj.programs["socket/second"]
    assert (first.name, second.name) == ("first", "second")
    # first: main (5 slots) + add3 (3); second: main (6) + twice_plus (3) + add3 (3)
    assert (len(first.program), len(second.program)) == (8, 12)
    assert _calls(first.program) == [(3, 5)]
    assert _calls(second.program) == [(3, 6), (6, 9)]
    assert (_run_vm(first.program), _run_vm(second.program)) == (8, 17)


def test_btf_defined_maps_and_relocations(objects: dict[str, Path]) -> None:
    obj = _load(objects, "arraymap")
    assert obj.maps == ("counters", "pairs")
    counters, pairs = obj.map_definitions
    assert (counters.type, counters.key_size, counters.value_size, counters.max_entries) == \
        (BPF_MAP_TYPE_ARRAY, 4, 8, 16)
    assert (pairs.type, pairs.key_size, pairs.value_size, pairs.max_entries) == \
        (BPF_MAP_TYPE_HASH, 8, 16, 128)
    for section, index, name in (("socket", 0, "counters"), ("socket/pairs", 1, "pairs")):
        prog = obj.programs[section]
        assert prog.map_relocations == {4: name}
        assert prog.program.slots[4] == LoadImm64(1, Pseudo.MAP_IDX, index, 0)
        assert prog.program.slots[6] == Call(1)  # bpf_map_lookup_elem


def test_legacy_maps_section(objects: dict[str, Path]) -> None:
    obj = _load(objects, "legacymap")
    assert obj.maps == ("hits", "seen")
    got = [(d.type, d.key_size, d.value_size, d.max_entries) for d in obj.map_definitions]
    assert got == [(BPF_MAP_TYPE_ARRAY, 4, 8, 4), (BPF_MAP_TYPE_HASH, 8, 4, 64)]
    prog = obj.programs["socket"]
    assert prog.map_relocations == {6: "hits", 12: "seen"}
    assert prog.program.slots[12] == LoadImm64(1, Pseudo.MAP_IDX, 1, 0)


def test_global_data_becomes_map_value_references(objects: dict[str, Path]) -> None:
    obj = _load(objects, "globals")
    assert obj.maps == (".rodata", ".data", ".bss")
    rodata, data, bss = obj.map_definitions
    assert rodata.initial == struct.pack("<i", 40) and rodata.flags == BPF_F_RDONLY_PROG
    assert data.initial == struct.pack("<i", 2) and data.flags == 0
    assert bss.initial == bytes(4) and bss.max_entries == 1 and bss.value_size == 4
    prog = obj.programs["socket"]
    assert prog.map_relocations == {0: ".data", 3: ".rodata", 7: ".bss"}
    assert prog.program.slots[3] == LoadImm64(2, Pseudo.MAP_IDX_VALUE, 0, 0)


def test_callback_address_becomes_code_address(objects: dict[str, Path]) -> None:
    prog = _load(objects, "callback").programs["socket"]
    lddw = [(pc, i) for pc, i in prog.program.instructions() if isinstance(i, LoadImm64)]
    assert len(lddw) == 1
    pc, insn = lddw[0]
    assert insn.pseudo is Pseudo.CODE_ADDR
    target = pc + 1 + insn.imm
    # cb: r1 <<= 32 first; other (called directly) is laid out after cb.
    assert target == 14 and _calls(prog.program) == [(11, 21)]


def test_several_programs_in_one_section_are_keyed_by_function(
        objects: dict[str, Path]) -> None:
    obj = _load(objects, "samesection")
    assert set(obj.programs) == {"socket:alpha", "socket:beta"}
    beta = obj.programs["socket:beta"]
    assert (beta.section, beta.name, len(beta.program)) == ("socket", "beta", 2)
    assert _run_vm(obj.programs["socket:alpha"].program) == 11
    assert _run_vm(beta.program) == 22


def test_load_program_picks_the_section_or_the_only_program(objects: dict[str, Path]) -> None:
    assert load_program(objects["twosections"], "socket/second").name == "second"
    assert load_program(objects["straight"]).name == "straight"


# ------------------------------------------------------------------ negative cases


def _error(path: Path | str, section: str | None = None) -> str:
    with pytest.raises(InputError) as info:
        if section is None:
            load_elf(path)
        else:
            load_program(path, section)
    message = str(info.value)
    assert message.startswith(f"{path}: error: "), message
    assert "\n" not in message
    return message


def test_invalid_missing_file(tmp_path: Path) -> None:
    assert "error: no such file" in _error(tmp_path / "nope.o")


def test_invalid_directory(tmp_path: Path) -> None:
    assert "error: is a directory" in _error(tmp_path)


def test_invalid_empty_file(tmp_path: Path) -> None:
    path = tmp_path / "empty.o"
    path.write_bytes(b"")
    assert _error(path).endswith("error: not an ELF file")


def test_invalid_not_an_elf(tmp_path: Path) -> None:
    path = tmp_path / "text.o"
    path.write_text("r0 = 1\nexit\n")
    assert _error(path).endswith("error: not an ELF file")


@pytest.mark.parametrize("keep", [6, 16, 64, 200, 0.5, 0.9])
def test_invalid_truncated_elf(objects: dict[str, Path], tmp_path: Path,
                               keep: float) -> None:
    data = objects["subprog"].read_bytes()
    size = int(len(data) * keep) if isinstance(keep, float) else keep
    path = tmp_path / "cut.o"
    path.write_bytes(data[:size])
    assert "malformed ELF file" in _error(path)


def test_invalid_x86_object(tmp_path: Path) -> None:
    cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if cc is None:
        pytest.fail("no C compiler: .ci/run should have installed clang")
    src = tmp_path / "host.c"
    src.write_text("int host(int x) { return x + 1; }\n")
    subprocess.run([cc, "-c", str(src), "-o", str(tmp_path / "host.o")], check=True)
    message = _error(tmp_path / "host.o")
    assert message.endswith("error: not a BPF object (machine EM_X86_64)"), message


def test_invalid_machine_field(objects: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(objects["straight"].read_bytes())
    struct.pack_into("<H", data, 18, 0xB7)  # e_machine = EM_AARCH64
    path = tmp_path / "arm.o"
    path.write_bytes(bytes(data))
    assert "not a BPF object (machine EM_AARCH64)" in _error(path)


def test_invalid_32_bit_class(objects: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(objects["straight"].read_bytes())
    data[4] = 1
    path = tmp_path / "c32.o"
    path.write_bytes(bytes(data))
    assert "not a 64-bit ELF object" in _error(path)


def test_invalid_big_endian(objects: dict[str, Path], tmp_path: Path) -> None:
    data = bytearray(objects["straight"].read_bytes())
    data[5] = 2
    path = tmp_path / "be.o"
    path.write_bytes(bytes(data))
    assert "not a little-endian ELF object" in _error(path)


def test_invalid_missing_section_lists_available(objects: dict[str, Path]) -> None:
    message = _error(objects["twosections"], "socket/third")
    assert "no program section 'socket/third'" in message
    assert "(program sections: socket/first, socket/second)" in message


@pytest.mark.parametrize("section", [".text", "license", ".maps", ""])
def test_invalid_section_that_is_not_a_program(objects: dict[str, Path], section: str) -> None:
    assert f"no program section '{section}'" in _error(objects["arraymap"], section)


def test_invalid_ambiguous_program(objects: dict[str, Path]) -> None:
    with pytest.raises(InputError, match="holds 2 programs; choose a section"):
        load_program(objects["twosections"])


def test_invalid_extern_reference(tmp_path: Path) -> None:
    src = tmp_path / "ext.c"
    src.write_text("extern int shared_value;\n"
                   "__attribute__((section(\"socket\"), used))\n"
                   "int ext(void *ctx) { return shared_value; }\n")
    message = _error(compile_bpf(src, tmp_path))
    assert "lddw references shared_value in no section (extern)" in message


def test_invalid_maps_without_btf(tmp_path: Path) -> None:
    obj = compile_bpf(C_DIR / "arraymap.c", tmp_path, debug=False)
    assert "section .maps needs a .BTF section" in _error(obj)


def _section_offset(path: Path, name: str) -> int:
    with path.open("rb") as f:
        section = ELFFile(f).get_section_by_name(name)
        assert section is not None, name
        return int(section["sh_offset"])


def _patched(path: Path, tmp_path: Path, section: str, offset: int, raw: bytes) -> Path:
    data = bytearray(path.read_bytes())
    start = _section_offset(path, section) + offset
    data[start:start + len(raw)] = raw
    out = tmp_path / f"patched-{path.name}"
    out.write_bytes(bytes(data))
    return out


def test_invalid_btf_magic(objects: dict[str, Path], tmp_path: Path) -> None:
    path = _patched(objects["arraymap"], tmp_path, ".BTF", 0, b"\x00\x00")
    assert "malformed .BTF section: bad magic" in _error(path)


def test_invalid_instruction_in_program(objects: dict[str, Path], tmp_path: Path) -> None:
    path = _patched(objects["straight"], tmp_path, "socket", 8 * 3, b"\xff")
    message = _error(path)
    assert "section socket: pc 3:" in message and "0xff" in message


def test_invalid_relocation_symbol_index(objects: dict[str, Path], tmp_path: Path) -> None:
    # Elf64_Rel: r_offset (8), r_info (8) = sym << 32 | type
    path = _patched(objects["arraymap"], tmp_path, ".relsocket", 8,
                    struct.pack("<Q", (9999 << 32) | 1))
    assert "bad relocation at offset 0x20 (symbol 9999)" in _error(path)


def test_invalid_relocation_type_on_call(objects: dict[str, Path], tmp_path: Path) -> None:
    path = _patched(objects["twosections"], tmp_path, ".relsocket/first", 8, b"\x01")
    assert "call has relocation type 1, expected R_BPF_64_32 (10)" in _error(path)


def test_invalid_relocation_on_plain_instruction(objects: dict[str, Path],
                                                 tmp_path: Path) -> None:
    path = _patched(objects["twosections"], tmp_path, ".relsocket/first", 0,
                    struct.pack("<Q", 8))  # move the call relocation to pc 1 (a store)
    assert "applies to an instruction that is not lddw or call" in _error(path)


def test_invalid_call_into_the_middle_of_a_function(objects: dict[str, Path],
                                                    tmp_path: Path) -> None:
    # socket/first pc 3: "call -1" (add3 at .text+0); make it "call 0" -> .text+8
    path = _patched(objects["twosections"], tmp_path, "socket/first", 8 * 3 + 4,
                    struct.pack("<i", 0))
    assert "call target .text+0x8 is not the start of a function" in _error(path)


def test_invalid_map_reference_offset(objects: dict[str, Path], tmp_path: Path) -> None:
    # lddw at pc 4 of "socket": imm += 4 points into the middle of "counters"
    path = _patched(objects["arraymap"], tmp_path, "socket", 8 * 4 + 4, struct.pack("<i", 4))
    assert "no map at .maps+0x4" in _error(path)


# ------------------------------------------------------------------ against the kernel

#: Linked programs without maps and the r0 their C source computes (low 32 bits).
KERNEL_CASES = [
    ("straight", "socket", 1234),
    ("loop", "socket", sum(i * i for i in range(30))),
    ("subprog", "socket", 19 + 230),
    ("twosections", "socket/first", 8),
    ("twosections", "socket/second", 17),
    ("samesection", "socket:beta", 22),
]
# callback.c is not loaded: a callback (BPF_PSEUDO_FUNC) needs BTF func_info in the load.


@pytest.mark.kernel
@pytest.mark.parametrize(("name", "section", "expected"), KERNEL_CASES,
                         ids=[f"{n}:{s}" for n, s, _ in KERNEL_CASES])
def test_linked_program_runs_in_the_kernel(objects: dict[str, Path], name: str, section: str,
                                           expected: int) -> None:
    from arspec.reference.differential.kernel_bpf import kernel_available
    from arspec.reference.differential.kernel_bpf import load_program as kernel_load

    available, reason = kernel_available()
    if not available:
        pytest.skip(reason)
    program = load_program(objects[name], section).program
    with kernel_load(encode(program)) as loaded:
        assert loaded.test_run(bytes(64)) == expected
