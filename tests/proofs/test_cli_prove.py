"""``spec-check prove``: one line per invariant, JSON output, exit codes 0/1/2/3."""

from __future__ import annotations

import io
import json

import pytest

from arspec.cli.exit_codes import EXIT_FAILED, EXIT_INCONCLUSIVE, EXIT_OK, EXIT_USAGE
from arspec.cli.main import main


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    code = main(["prove", *argv], out=out)
    return code, out.getvalue()


def test_prove_group_text() -> None:
    code, text = _run("tailcall", "watchers", "--no-timing")
    assert code == EXIT_OK
    assert text.splitlines() == [
        "PROVED   tailcall.limit (17 obligations)",
        "PROVED   watchers.cascade (29 obligations)",
        "PROVED   watchers.edge (4 obligations)",
    ]


def test_prove_json_is_byte_identical_without_timing() -> None:
    first = _run("budget", "--format", "json", "--no-timing")
    second = _run("budget", "--format", "json", "--no-timing")
    assert first == second and first[0] == EXIT_OK
    data = json.loads(first[1])
    assert (data["format"], data["version"]) == ("arspec-prove", 1)
    assert [r["invariant"] for r in data["results"]] == [
        "budget.slot", "budget.invocation", "budget.fault", "budget.fifo"]
    assert {r["status"] for r in data["results"]} == {"PROVED"}


def test_prove_reports_time() -> None:
    code, text = _run("watchers.edge")
    assert code == EXIT_OK and text.startswith("PROVED   watchers.edge ") and "s (4" in text


def test_invalid_unknown_name_is_one_line_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _run("tailcall", "no_such_invariant")
    assert code == EXIT_USAGE and text == ""
    err = capsys.readouterr().err
    assert len(err.splitlines()) == 1 and "unknown invariant 'no_such_invariant'" in err


def test_invalid_format_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run("--format", "sarif")
    assert code == EXIT_USAGE and len(capsys.readouterr().err.splitlines()) == 1


def test_invalid_rlimit_is_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = _run("--rlimit", "0")
    assert code == EXIT_USAGE and "must be positive" in capsys.readouterr().err


@pytest.mark.parametrize("value", ["nan", "inf", "-1", "0", "1e308", "soon"])
def test_invalid_timeout_is_one_line_exit_2(value: str,
                                            capsys: pytest.CaptureFixture[str]) -> None:
    code, text = _run("tailcall", "--timeout", value)
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and text == ""
    assert len(err.splitlines()) == 1 and "--timeout" in err and "internal error" not in err


def test_solver_limit_is_unknown_exit_3() -> None:
    code, text = _run("tailcall", "--rlimit", "1", "--no-timing")
    assert code == EXIT_INCONCLUSIVE
    assert text.startswith("UNKNOWN  tailcall.limit (") and "resource limit" in text


def test_refuted_line_carries_the_counterexample_exit_1(monkeypatch: pytest.MonkeyPatch) -> None:
    from arspec.proofs import catalogue, core, tailcall

    refuted = core.prove_twin(tailcall.SYSTEM, tailcall.TWINS[0])
    monkeypatch.setattr(catalogue, "prove", lambda names, config=None: [refuted])
    code, text = _run("tailcall", "--no-timing")
    assert code == EXIT_FAILED
    assert text.startswith("REFUTED  tailcall.limit (")
    cex = json.loads(text.split(" counterexample: ", 1)[1])
    assert cex["obligation"] == "tail_call" and cex["pre"]["count"] == cex["post"]["count"]
    code, text = _run("tailcall", "--format", "json", "--no-timing")
    row = json.loads(text)["results"][0]
    assert code == EXIT_FAILED and row["status"] == "REFUTED"
    assert row["counterexample"]["post"]["jumps"] > row["counterexample"]["post"]["count"]
