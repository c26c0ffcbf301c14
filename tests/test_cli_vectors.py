"""``spec-check vectors``: the test-vector writer as a subcommand (small samples)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from arspec.cli.main import main


def run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    out = io.StringIO()
    code = main(argv, out=out)
    return code, out.getvalue(), capsys.readouterr().err


def test_writes_a_sample_with_progress_on_stderr(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    out_dir = tmp_path / "new" / "vectors"
    code, out, err = run(["vectors", str(out_dir), "--kinds", "instruction", "--limit", "2",
                          "--programs", "2"], capsys)
    assert code == 0
    assert out.startswith(f"wrote 8 vectors in 6 files to {out_dir}\n")
    assert "instruction  linux" in out and "instruction  solana" in out
    assert "spec-check vectors: instruction/edge.jsonl: 2 vectors" in err
    assert "wrote" not in err
    manifest = json.loads((out_dir / "manifest.json").read_text())
    assert [f["path"] for f in manifest["files"]] == [
        "instruction/conformance.jsonl", "instruction/agave.jsonl", "instruction/kernel.jsonl",
        "instruction/edge.jsonl", "schemas/instruction.schema.json"]
    assert not (out_dir / "runtime").exists()


def test_two_kinds_in_order_and_identical_twice(tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["--kinds", "verifier,runtime", "--limit", "1"]
    assert run(["vectors", str(tmp_path / "a"), *argv], capsys)[0] == 0
    assert run(["vectors", str(tmp_path / "b"), *argv], capsys)[0] == 0
    first = (tmp_path / "a" / "manifest.json").read_text()
    assert first == (tmp_path / "b" / "manifest.json").read_text()
    kinds = [f["kind"] for f in json.loads(first)["files"]]
    assert kinds.index("runtime") < kinds.index("verifier")


@pytest.mark.parametrize(("argv", "message"), [
    (["--kinds", "bytecode"], "--kinds: unknown kind 'bytecode' (expected a comma-separated "
                              "list of: instruction, runtime, verifier)"),
    (["--kinds", "instruction,"], "--kinds: unknown kind ''"),
    (["--kinds", ""], "--kinds: unknown kind ''"),
    (["--limit", "0"], "--limit: must be positive: '0'"),
    (["--programs", "x"], "--programs: not an integer: 'x'"),
])
def test_bad_option_is_one_line_exit_2(argv: list[str], message: str, tmp_path: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["vectors", str(tmp_path / "v"), *argv], capsys)
    assert code == 2 and out == ""
    assert len(err.splitlines()) == 1 and message in err
    assert not (tmp_path / "v").exists()


def test_out_dir_that_is_a_file_is_one_line_exit_2(tmp_path: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    code, out, err = run(["vectors", str(target)], capsys)
    assert (code, out) == (2, "")
    assert err == f"{target}: error: not a folder (vectors are written into a folder)\n"
    assert target.read_text() == "x"


def test_out_dir_under_a_file_is_one_line_exit_2(tmp_path: Path,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "file").write_text("x")
    code, _, err = run(["vectors", str(tmp_path / "file" / "sub")], capsys)
    assert code == 2
    assert err.startswith(f"{tmp_path / 'file' / 'sub'}: error: cannot create the folder: ")
    assert len(err.splitlines()) == 1


def test_missing_out_dir_argument_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["vectors"], capsys)
    assert code == 2 and "OUT_DIR" in err and len(err.splitlines()) == 1
