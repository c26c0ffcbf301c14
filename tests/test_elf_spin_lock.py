"""C programs with a bpf_spin_lock and a bpf_dynptr, compiled by stock clang with libbpf's
helper declarations: the lock offset comes from BTF, the verifier proves both, the runtime runs
them; two locks in a value are refused."""

from __future__ import annotations

from pathlib import Path

import pytest

import arspec.reference.runtime.runtime  # noqa: F401 - installs the ELF map reader bundles use
from arspec.cli import main as cli
from arspec.reference.isa.elf import read_bundle_maps
from arspec.spec.errors import InputError
from arspec.spec.loader import load_bundle
from tests.test_elf import compile_bpf

HERE = Path(__file__).resolve().parent / "elf_bundles"
BUNDLE = """arspec: 1
name: c-spin-lock
profile: linux
programs:
  tick:
    elf: spin_lock.o
    section: socket
    hook: {on: every, slots: 1}
scenario:
  slots: 3
properties:
  programs: [termination, memory, compute]
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("spinlock")
    compile_bpf(HERE / "spin_lock.c", out)
    (out / "b.yaml").write_text(BUNDLE)
    return out


def test_lock_offset_comes_from_btf(folder: Path) -> None:
    maps = read_bundle_maps(folder / "spin_lock.o")
    assert maps["counts"]["spin_lock"] == 8
    assert load_bundle(folder / "b.yaml").maps["counts"].spin_lock == 8


def test_c_program_verifies_and_runs(folder: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main([str(folder / "b.yaml")]) == 0
    assert "result: all requested properties PROVED" in capsys.readouterr().out
    assert cli.main(["run", str(folder / "b.yaml")]) == 0
    assert "counts[0]" in capsys.readouterr().out


DYNPTR_BUNDLE = """arspec: 1
name: c-dynptr
profile: linux
programs:
  produce:
    elf: dynptr.o
    section: socket
    hook: {on: every, slots: 1}
scenario:
  slots: 3
properties:
  programs: [termination, memory, compute]
"""


def test_c_dynptr_program_verifies_and_runs(tmp_path: Path,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    compile_bpf(HERE / "dynptr.c", tmp_path)
    (tmp_path / "b.yaml").write_text(DYNPTR_BUNDLE)
    assert cli.main([str(tmp_path / "b.yaml")]) == 0
    assert "result: all requested properties PROVED" in capsys.readouterr().out
    assert cli.main(["run", str(tmp_path / "b.yaml")]) == 0
    assert "3 record(s) produced" in capsys.readouterr().out


def test_invalid_two_locks_in_one_value(tmp_path: Path) -> None:
    source = (HERE / "spin_lock.c").read_text().replace(
        "\t__u32 pad;", "\tstruct bpf_spin_lock second;")
    path = tmp_path / "two.c"
    path.write_text(source)
    with pytest.raises(InputError, match="more than one struct bpf_spin_lock"):
        read_bundle_maps(compile_bpf(path, tmp_path))
