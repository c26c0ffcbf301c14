"""The C header arspec/sol.h: generated from the spec, found by ``spec-check include-dir``,
and the C examples compiled with clang through verify, run and explore."""

from __future__ import annotations

import importlib.util
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from arspec.cli import main as cli
from arspec.reference.isa.elf import load_program
from arspec.reference.isa.instructions import Call
from arspec.reference.isa.murmur3 import murmur3_32
from arspec.reference.runtime.c_header import (
    HEADER_PATH,
    LINUX_ONLY_IDS,
    get_include_dir,
    render_header,
)
from arspec.spec.helpers import HELPER_TABLE, HELPERS_BY_NAME
from arspec.spec.syscalls import AGAVE_SYSCALLS, SOL_ALIASES, SOL_INTERFACE
from tests.test_elf import _multiarch_include

ROOT = Path(__file__).resolve().parents[1]
C_EXAMPLES = ROOT / "examples" / "c"
DECLARATION = re.compile(r"\(\*const (\w+)\)\(.*\) = \(void \*\) (?:ARSPEC_HELPER\((0x[0-9a-f]+), "
                         r"(\d+)\)|(0x[0-9a-f]+));")


def clang(source: Path, out: Path, *flags: str) -> subprocess.CompletedProcess[str]:
    """Compile ``source`` for BPF with the header's folder on the include path."""
    exe = shutil.which("clang")
    if exe is None:
        pytest.fail("clang is not installed: .ci/install-deps installs it")
    return subprocess.run([exe, "-O2", "-g", "-target", "bpf", f"-I{get_include_dir()}", *flags,
                           "-c", str(source), "-o", str(out)], capture_output=True, text=True)


def compiled(source: Path, folder: Path, *flags: str) -> Path:
    out = folder / (source.stem + ".o")
    done = clang(source, out, *flags)
    assert done.returncode == 0, done.stderr
    return out


@pytest.fixture(scope="module")
def examples(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("cexamples")
    for source in sorted(C_EXAMPLES.glob("*.c")):
        compiled(source, folder)
    for bundle in sorted(C_EXAMPLES.glob("*.yaml")):
        shutil.copy(bundle, folder / bundle.name)
    return folder


def declarations() -> dict[str, tuple[int, int | None]]:
    found: dict[str, tuple[int, int | None]] = {}
    for m in DECLARATION.finditer(HEADER_PATH.read_text()):
        name, hashed, linux, plain = m.groups()
        found[name] = (int(hashed or plain, 16), None if linux is None else int(linux))
    return found


# ------------------------------------------------------------------ negative cases first


def test_header_is_the_generated_one() -> None:
    """A header edited by hand, or a spec table changed without regenerating, fails."""
    assert HEADER_PATH.read_text() == render_header(), \
        "run `python -m arspec.reference.runtime.c_header` to regenerate arspec/sol.h"


def test_linux_mode_does_not_declare_agave_syscalls(tmp_path: Path) -> None:
    source = tmp_path / "log.c"
    source.write_text('#include <arspec/sol.h>\nSOL_STARTUP long f(void *c)\n'
                      '{ sol_log_("x", 1); return 0; }\n')
    done = clang(source, tmp_path / "log.o", "-DARSPEC_PROFILE_LINUX",
                 "-Werror=implicit-function-declaration")
    assert done.returncode != 0 and "sol_log_" in done.stderr
    assert clang(source, tmp_path / "log.o").returncode == 0


def test_criteria_struct_size_is_checked_by_the_compiler(tmp_path: Path) -> None:
    source = tmp_path / "size.c"
    source.write_text("#include <arspec/sol.h>\n"
                      "_Static_assert(sizeof(struct sol_watch_criteria) == 24, \"\");\n"
                      "_Static_assert(__builtin_offsetof(struct sol_watch_criteria, value) == 16,"
                      " \"\");\n")
    assert clang(source, tmp_path / "size.o").returncode == 0


def test_include_dir_rejects_arguments(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["include-dir", "extra"]) == 2
    assert "unrecognized arguments: extra" in capsys.readouterr().err


def test_broken_ring_leak_is_refuted_and_faults_at_run_time(
        examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = str(examples / "broken_ring_leak.yaml")
    assert cli.main(["verify", bundle]) == 1
    out = capsys.readouterr().out
    assert "Ring-buffer record leaked" in out and "sample: memory: REFUTED" in out
    assert "replay: exited at pc" in out and "holding 1 unreleased" in out
    assert cli.main(["run", bundle]) == 1
    out = capsys.readouterr().out
    assert out.count("ROLLED BACK: 1 ring-buffer reservation(s) neither submitted") == 2


def test_broken_watch_cascade_violates_and_its_twin_holds(
        examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["explore", str(examples / "watch_cascade_broken.yaml"), "--no-timing"]) == 1
    out = capsys.readouterr().out
    assert "VIOLATED watcher_cascade:" in out and "runtime_watchers       HOLDS" in out
    assert cli.main(["explore", str(examples / "watch_cascade_ok.yaml"), "--no-timing"]) == 0
    assert "VIOLATED" not in capsys.readouterr().out


# ------------------------------------------------------------------ positive cases


def test_every_callable_name_is_declared_with_its_hash_and_id() -> None:
    found = declarations()
    for row in HELPER_TABLE:
        assert found[row.name] == (murmur3_32(row.name.encode()), row.id), row.name
    for alias, target in SOL_ALIASES:
        assert found[alias] == (murmur3_32(alias.encode()), HELPERS_BY_NAME[target].id)
    for syscall in AGAVE_SYSCALLS:
        assert found[syscall.row.name] == (murmur3_32(syscall.row.name.encode()), None)
    assert set(SOL_INTERFACE) <= set(found)


def test_lock_and_dynptr_helpers_are_declared_by_their_linux_ids() -> None:
    found = declarations()
    expected = {"bpf_spin_lock": 93, "bpf_spin_unlock": 94, "bpf_dynptr_from_mem": 197,
                "bpf_ringbuf_reserve_dynptr": 198, "bpf_ringbuf_submit_dynptr": 199,
                "bpf_ringbuf_discard_dynptr": 200, "bpf_dynptr_read": 201,
                "bpf_dynptr_write": 202, "bpf_dynptr_data": 203}
    assert expected == LINUX_ONLY_IDS
    for name, linux_id in expected.items():
        assert found[name] == (murmur3_32(name.encode()), linux_id)
        if name in HELPERS_BY_NAME:  # once the helper table has them, the ids agree
            assert HELPERS_BY_NAME[name].id == linux_id


def test_include_dir_prints_the_header_folder(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["include-dir"]) == 0
    folder = Path(capsys.readouterr().out.strip())
    assert (folder / "arspec" / "sol.h").read_text() == HEADER_PATH.read_text()
    assert cli.main(["include-dir", "--cflags"]) == 0
    assert capsys.readouterr().out == f"-I{folder}\n"


@pytest.mark.parametrize(("flags", "expected"), [
    ((), {murmur3_32(b"sol_timer_start"), murmur3_32(b"sol_watch_account")}),
    (("-DARSPEC_PROFILE_LINUX",), {171, 0x1000A}),
])
def test_calls_are_encoded_as_the_profile_resolves_them(tmp_path: Path, flags: tuple[str, ...],
                                                        expected: set[int]) -> None:
    source = tmp_path / "calls.c"
    source.write_text("#include <arspec/sol.h>\n"
                      "struct v { __u64 n; struct bpf_timer t; };\n"
                      "SOL_STARTUP long f(struct v *v)\n"
                      "{ struct sol_watch_criteria c = {0};\n"
                      "  sol_timer_start(&v->t, 1, 0);\n"
                      "  return sol_watch_account(&c, sizeof(c), (void *)0, 0); }\n")
    program = load_program(compiled(source, tmp_path, *flags), "startup").program
    calls = {insn.imm & 0xFFFFFFFF for _, insn in program.instructions()
             if isinstance(insn, Call)}
    assert calls == expected


def test_header_coexists_with_linux_bpf_h(tmp_path: Path) -> None:
    source = tmp_path / "both.c"
    source.write_text("#include <linux/bpf.h>\n#include <arspec/sol.h>\n"
                      "SOL_STARTUP long f(void *c) { return BPF_MAP_TYPE_RINGBUF; }\n")
    compiled(source, tmp_path, *_multiarch_include())


def test_autonomous_c_verifies_runs_and_explores(
        examples: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle = str(examples / "autonomous.yaml")
    assert cli.main(["verify", bundle, "--no-explore"]) == 0
    out = capsys.readouterr().out
    assert "callback: start:" in out and " watch -> start:" in out and " timer -> start:" in out
    assert "result: all requested properties PROVED" in out
    assert cli.main(["run", bundle]) == 0
    out = capsys.readouterr().out
    ticks = re.findall(r"Program log: 0x1, (0x[0-9a-f]+)", out)
    prices = re.findall(r"Program log: 0x2, (0x[0-9a-f]+)", out)
    assert ticks == ["0x1", "0x2", "0x3"] and prices == ["0xaa", "0xc8"]
    assert "runtime watcher 1 of start" in out
    assert cli.main(["explore", bundle, "--no-timing"]) == 0
    assert "verdict: HOLDS" in capsys.readouterr().out


def test_docs_call_table_lists_every_name_with_its_hash() -> None:
    spec = importlib.util.spec_from_file_location("arspec_docs_generate_c",
                                                  ROOT / "docs" / "generate.py")
    assert spec is not None and spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    page = generate.render_syscalls()
    for name in [*(a for a, _ in SOL_ALIASES), *(s.row.name for s in AGAVE_SYSCALLS)]:
        assert f"``{name}``" in page and f"``{murmur3_32(name.encode()):#010x}``" in page
    assert "``MAX_WATCHERS_PER_PROGRAM``" in page and "``SOL_WATCH_CHANGE_BPS``" in page
