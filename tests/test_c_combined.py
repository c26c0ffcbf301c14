"""examples/c/market_watch.c: timers, a ring buffer written through a dynptr, a spin lock and
sol_watch_account in one C program, compiled by the Debian clang with ``arspec/sol.h`` and run
through verify, run and explore in the solana profile; its broken twin and misuses compiled
from edited copies of its source are REFUTED at the C line."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

import arspec.reference.runtime.runtime  # noqa: F401 - installs the ELF map reader bundles use
from arspec.cli import main as cli
from arspec.reference.runtime.c_header import get_include_dir
from arspec.spec.bundle import MapType
from arspec.spec.loader import BundleError, load_bundle

ROOT = Path(__file__).resolve().parents[1]
C_EXAMPLES = ROOT / "examples" / "c"
GOOD = C_EXAMPLES / "market_watch.c"
BROKEN = C_EXAMPLES / "market_watch_broken.c"
CLANG = shutil.which("clang")

needs_clang = pytest.mark.skipif(CLANG is None, reason="clang is not installed "
                                                       "(.ci/install-deps installs it)")


def build(source: Path, folder: Path, text: str | None = None) -> Path:
    """Compile ``source`` (or ``text`` under its name) as the docs say a user does."""
    assert CLANG is not None
    if text is not None:
        source = folder / source.name
        source.write_text(text)
    out = folder / (source.stem + ".o")
    done = subprocess.run([CLANG, "-O2", "-g", "-target", "bpf", f"-I{get_include_dir()}", "-c",
                           str(source), "-o", str(out)], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    return out


def bundle_for(folder: Path, yaml_name: str) -> str:
    shutil.copy(C_EXAMPLES / yaml_name, folder / yaml_name)
    return str(folder / yaml_name)


def line_of(source: str, fragment: str) -> int:
    """Return the 1-based line of the one line of ``source`` holding ``fragment``."""
    found = [n for n, line in enumerate(source.splitlines(), 1) if fragment in line]
    assert len(found) == 1, (fragment, found)
    return found[0]


def final_fields(out: str, element: str) -> dict[str, int]:
    """Return the named fields of ``element`` ("book[0]") in the run's final contents."""
    m = re.search(rf"^  {re.escape(element)}: (.*)$", out, re.MULTILINE)
    assert m is not None, out
    return {name: int(value) for name, value in
            (pair.split(" = ") for pair in m.group(1).split(", "))}


def misuse(tmp_path: Path, old: str, new: str) -> tuple[str, str]:
    """Compile market_watch.c with ``old`` replaced by ``new``; return the bundle and source."""
    text = GOOD.read_text()
    assert text.count(old) == 1, old
    text = text.replace(old, new)
    build(GOOD, tmp_path, text)
    return bundle_for(tmp_path, "market_watch.yaml"), text


# ------------------------------------------------------------------ negative cases first


def test_broken_twin_is_a_one_return_edit_of_the_good_program() -> None:
    good = GOOD.read_text().splitlines()
    broken = BROKEN.read_text().splitlines()
    body = broken[broken.index(" * The rest is market_watch.c unchanged:") + 1:]
    added = [line for line in body if line not in good]
    assert [a.strip() for a in added if "Built with" not in a] == [
        "if (price < high / 2)", "return 0; /* BUG: returns with b->lock held */"]


@needs_clang
def test_broken_twin_returns_with_the_lock_held(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    build(BROKEN, tmp_path)
    bundle = bundle_for(tmp_path, "market_watch_broken.yaml")
    assert cli.main(["verify", bundle, "--no-explore"]) == 1
    out = capsys.readouterr().out
    finding = [line for line in out.splitlines() if "bpf_spin_unlock is missing" in line]
    assert len(finding) == 1 and "[REFUTED] at " in finding[0]
    assert finding[0].endswith("market_watch_broken.c:" + str(
        line_of(BROKEN.read_text(), "emit(KIND_QUOTE, price, 0, 16);") + 2))  # the shared exit
    assert "replay: exited at pc" in out and "holding a bpf_spin_lock" in out
    guard = line_of(BROKEN.read_text(), "if (price < high / 2)")
    lock = max(n for n, line in enumerate(BROKEN.read_text().splitlines(), 1)
               if "bpf_spin_lock(&b->lock);" in line and n < guard)
    note = re.search(r"note: source path \(last lines run\): \S+market_watch_broken\.c:(.*)", out)
    assert note is not None
    path = [int(n) for n in note.group(1).split(" -> ")]
    assert lock in path and path[-2] == guard  # locked, then left through the guard
    assert "start: memory: REFUTED" in out and "record: memory: PROVED" in out
    assert "result: REFUTED" in out

    assert cli.main(["run", bundle]) == 1
    out = capsys.readouterr().out
    assert out.count("ROLLED BACK: bpf_spin_unlock is missing") == 1
    assert "price.value = 50" in out
    assert final_fields(out, "book[0]") == {"quotes": 3, "last": 130, "high": 130}  # slot 11


@needs_clang
def test_misuse_dynptr_data_without_null_check(tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    bundle, text = misuse(tmp_path, "\tif (tail)\n\t\t*tail = extra;", "\t*tail = extra;")
    assert cli.main(["verify", bundle, "--no-explore"]) == 1
    out = capsys.readouterr().out
    at = f"market_watch.c:{line_of(text, '*tail = extra;')}"
    refuted = [line for line in out.splitlines() if "[REFUTED]" in line]
    assert refuted and all(line.endswith(at) for line in refuted), refuted
    assert "replay: " in out and "start: memory: REFUTED" in out


@needs_clang
def test_misuse_failed_dynptr_reservation_not_released(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    bundle, text = misuse(tmp_path, "\t\tbpf_ringbuf_discard_dynptr(&ptr, 0); /* released even "
                                    "when the reservation failed */\n", "")
    assert cli.main(["verify", bundle, "--no-explore"]) == 1
    out = capsys.readouterr().out
    assert "dynptr" in out.lower() and "[REFUTED]" in out
    assert re.search(r"replay: exited at pc \d+ .*dynptr", out), out
    reserve = line_of(text, "if (bpf_ringbuf_reserve_dynptr(&feed")
    assert re.search(rf"note: source path \(last lines run\): \S+market_watch\.c:.*\b{reserve} ->",
                     out), out  # the path shows the failed reservation
    assert "start: memory: REFUTED" in out


@needs_clang
def test_misuse_ring_record_written_with_the_lock_held(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Moving the unlock after the record: a helper called inside the critical section."""
    bundle, text = misuse(
        tmp_path,
        "\tbpf_spin_unlock(&b->lock);\n\tif (price > high)\n\t\temit(KIND_HIGH, price, high, 24);"
        "\n\telse\n\t\temit(KIND_QUOTE, price, 0, 16);\n",
        "\tif (price > high)\n\t\temit(KIND_HIGH, price, high, 24);"
        "\n\telse\n\t\temit(KIND_QUOTE, price, 0, 16);\n\tbpf_spin_unlock(&b->lock);\n")
    assert cli.main(["verify", bundle, "--no-explore"]) == 1
    out = capsys.readouterr().out
    assert "Spin-lock rule violated" in out
    at = f"market_watch.c:{line_of(text, 'if (bpf_ringbuf_reserve_dynptr(&feed')}"
    assert any("Spin-lock rule violated" in line and line.endswith(at)
               for line in out.splitlines()), out
    assert "start: memory: REFUTED" in out


def hooked_on(folder: Path, ring: str, elf: str = "market_watch.o") -> Path:
    """Write market_watch.yaml with its subscriber hooked on ``ring`` and objects ``elf``."""
    text = (C_EXAMPLES / "market_watch.yaml").read_text()
    assert text.count("map: feed}") == 1 and "\n  feed:" not in text
    path = folder / "hooked.yaml"
    path.write_text(text.replace("map: feed}", f"map: {ring}}}").replace("market_watch.o", elf))
    return path


@needs_clang
def test_invalid_hook_on_a_map_neither_object_nor_bundle_defines(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    build(GOOD, tmp_path)
    path = hooked_on(tmp_path, "nosuch")
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    line = line_of(path.read_text(), "map: nosuch}")
    assert str(info.value).startswith(f"{path}:{line}:")
    assert "map 'nosuch' is not declared" in str(info.value)
    assert cli.main(["verify", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "map 'nosuch' is not declared" in err


@needs_clang
def test_invalid_hook_on_an_object_map_that_is_not_a_ring(tmp_path: Path) -> None:
    build(GOOD, tmp_path)
    with pytest.raises(BundleError, match="map 'book' is a array, not a ringbuf"):
        load_bundle(hooked_on(tmp_path, "book"))


@needs_clang
@pytest.mark.parametrize(("declared", "message"), [
    ("", "maps.book.spin_lock: none in the bundle, but market_watch.o defines 24"),
    ("    spin_lock: 28\n", "maps.book.spin_lock: 28 in the bundle, but market_watch.o defines 24"),
])
def test_invalid_declared_map_disagreeing_on_the_lock(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], declared: str, message: str) -> None:
    """Restating a map without its lock (or elsewhere) would lose the object's lock."""
    build(GOOD, tmp_path)
    text = (C_EXAMPLES / "market_watch.yaml").read_text()
    assert text.count("    spin_lock: 24\n") == 1
    path = tmp_path / "lock.yaml"
    path.write_text(text.replace("    spin_lock: 24\n", declared))
    for command in ("verify", "run", "explore"):
        assert cli.main([command, str(path)]) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and message in err and err.startswith(f"{path}:")


def test_invalid_unreadable_object_is_named_with_the_hook_error(tmp_path: Path) -> None:
    """A broken object defines no map: the hook's error comes with the object's, in order."""
    (tmp_path / "junk.o").write_bytes(b"\x7fELF")
    path = hooked_on(tmp_path, "feed", "junk.o")
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    reasons = [d.reason for d in info.value.diagnostics]
    assert any(r.startswith("programs.start.elf: not a 64-bit ELF object") for r in reasons)
    assert any("map 'feed' is not declared" in r for r in reasons)


def test_invalid_missing_object_is_said_first(tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    """Not compiled yet: the missing object, not the hook's map, is the first error."""
    path = bundle_for(tmp_path, "market_watch.yaml")
    line = min(n for n, text in enumerate(Path(path).read_text().splitlines(), 1)
               if "elf: market_watch.o" in text)
    assert cli.main(["verify", path]) == 2
    assert capsys.readouterr().err == (
        f"{path}:{line}:10: error: programs.start.elf: no such file 'market_watch.o' "
        "(relative to the bundle)\n")
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    assert [d.reason.split(":")[0] for d in info.value.diagnostics] == [
        "programs.start.elf", "programs.record.elf", "programs.record.hook.map"]


@needs_clang
def test_ring_hook_names_a_map_only_the_object_defines(tmp_path: Path) -> None:
    build(GOOD, tmp_path)
    path = bundle_for(tmp_path, "market_watch.yaml")
    assert "\n  feed:" not in Path(path).read_text()  # declared by the object alone
    bundle = load_bundle(path)
    assert list(bundle.maps) == ["book", "clock", "stats", "feed", "_rodata"]
    assert bundle.maps["feed"].type is MapType.RINGBUF
    assert bundle.maps["book"].spin_lock == 24 and bundle.maps["clock"].timer == 8
    assert bundle.programs["record"].hook.map == "feed"  # type: ignore[union-attr]


def test_leak_at_a_shared_exit_notes_the_bundle_lines_run(
        capsys: pytest.CaptureFixture[str]) -> None:
    """The source-path note is not C-only: assembly bundles give their own lines."""
    bundle = ROOT / "examples" / "broken_dynptr_leak.yaml"
    assert cli.main(["verify", str(bundle), "--no-explore"]) == 1
    out = capsys.readouterr().out
    text = bundle.read_text()
    failed = line_of(text, "      failed:")
    note = re.search(r"note: source path \(last lines run\): \S+broken_dynptr_leak\.yaml:(.*)",
                     out)
    assert note is not None, out
    path = [int(n) for n in note.group(1).split(" -> ")]
    assert path[-1] == line_of(text, "# BUG: the NULL dynptr") + 2  # its exit
    assert failed < path[-3] < path[-1] and line_of(text, "call bpf_ringbuf_reserve_dynptr") in path


# ------------------------------------------------------------------ the working program


@needs_clang
def test_market_watch_verifies_runs_and_explores(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    build(GOOD, tmp_path)
    bundle = bundle_for(tmp_path, "market_watch.yaml")
    assert cli.main(["verify", bundle, "--no-explore"]) == 0
    out = capsys.readouterr().out
    assert "profile solana" in out
    assert re.search(r"callback: start:\d+ timer -> start:\d+", out)
    assert re.search(r"callback: start:\d+ watch -> start:\d+", out)
    verdicts = re.findall(r"^(start|record): (\w+): (\w+)$", out, re.MULTILINE)
    assert len(verdicts) == 12 and {v for _, _, v in verdicts} == {"PROVED"}
    assert "result: all requested properties PROVED" in out

    assert cli.main(["run", bundle]) == 0
    out = capsys.readouterr().out
    logs = re.findall(r"run +#\d+ record +ringbuf .*'Program log: (0x\w+), (0x\w+), (0x\w+)",
                      out)
    assert [tuple(int(x, 16) for x in log) for log in logs] == [
        (3, 120, 24), (1, 1, 16), (2, 90, 16), (3, 130, 24), (1, 2, 16), (1, 3, 16)]
    assert out.count("runtime watcher 1 of start: price@0 changed") == 3  # not at slot 9
    assert final_fields(out, "book[0]") == {"quotes": 3, "last": 130, "high": 130}
    assert final_fields(out, "clock[0]") == {"ticks": 3}
    assert final_fields(out, "stats[0]") == {"records": 6, "bytes": 112, "highs": 2}
    assert " 0 rolled back" in out and "6 record(s) produced, 6 consumed" in out

    assert cli.main(["explore", bundle, "--no-timing"]) == 0
    out = capsys.readouterr().out
    assert "watcher_cascade        HOLDS" in out and "verdict: HOLDS" in out
