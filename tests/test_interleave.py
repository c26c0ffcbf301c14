"""The parallel-executor concurrency mode (model/interleave.py): it finds the lost update of an
unprotected read-modify-write and passes the spin-lock and lock-xadd twins; bad input is one
error line with exit 2."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from arspec.cli.main import main
from arspec.model import interleave
from arspec.model.interleave import explore_interleavings

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"
UNPROTECTED = str(EXAMPLES / "broken_spin_lock_unprotected.yaml")
LOCKED = str(EXAMPLES / "counter_spin_lock.yaml")
XADD = str(EXAMPLES / "counter_xadd.yaml")


def cli(*words: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(words), out=out), out.getvalue()


def test_unprotected_update_loses_one() -> None:
    result = explore_interleavings(UNPROTECTED, "tick")
    assert result.verdict == "VIOLATED"
    assert "lost update" in result.reason
    # The interleaved end counts 1; every sequential order counts 2.
    assert result.observed == "counts[00000000]=" + (1).to_bytes(16, "little").hex()
    assert result.expected == ("counts[00000000]=" + (2).to_bytes(16, "little").hex(),)
    # The schedule switches invocation between a load and its store.
    assert set(result.schedule) == {0, 1}
    assert result.schedule != tuple(sorted(result.schedule))


def test_spin_lock_twin_holds() -> None:
    result = explore_interleavings(LOCKED, "tick")
    assert (result.verdict, result.complete) == ("HOLDS", 1)
    assert result.states > 100


def test_lock_xadd_twin_holds() -> None:
    result = explore_interleavings(XADD, "tick")
    assert (result.verdict, result.complete) == ("HOLDS", 1)


def test_the_lock_is_what_protects(monkeypatch: pytest.MonkeyPatch) -> None:
    # Without waiting for a held lock, the locked twin loses the update too.
    monkeypatch.setattr(interleave._World, "waits", lambda self, index: False)
    result = explore_interleavings(LOCKED, "tick")
    assert result.verdict == "VIOLATED" and "lost update" in result.reason


def test_report_is_deterministic() -> None:
    first = explore_interleavings(UNPROTECTED, "tick").render()
    assert first == explore_interleavings(UNPROTECTED, "tick").render()
    assert "schedule (invocation per step): 0 0" in first


@pytest.mark.parametrize(("path", "code", "verdict"), [
    (UNPROTECTED, 1, "verdict: VIOLATED"), (LOCKED, 0, "verdict: HOLDS"),
    (XADD, 0, "verdict: HOLDS")])
def test_cli_exit_codes(path: str, code: int, verdict: str) -> None:
    got, text = cli("interleave", path, "--program", "tick")
    assert got == code and text.rstrip().endswith(verdict)


def test_bound_reached_is_inconclusive() -> None:
    code, text = cli("interleave", LOCKED, "--program", "tick", "--max-states", "5")
    assert code == 3 and "verdict: BOUND-REACHED" in text


def test_long_loops_stop_at_the_step_bound(tmp_path: Path) -> None:
    # Two invocations of a 3,000-iteration loop: far too many schedules; the step bound
    # stops the search quickly and deterministically instead of hanging.
    text = Path(XADD).read_text().replace(
        "        r1 = 1\n", "        r1 = 1\n        r3 = 0\n      spin:\n        r3 += 1\n"
        "        if r3 < 3000 goto spin\n")
    path = tmp_path / "loop.yaml"
    path.write_text(text)
    code, out = cli("interleave", str(path), "--program", "tick", "--max-steps", "200000")
    assert code == 3 and "stopped after 200000 instructions" in out


@pytest.mark.parametrize(("words", "message"), [
    (("--program", "nope"), "no program 'nope'"),
    (("--program", "tick", "--invocations", "9"), "--invocations must be 2..4"),
    (("--program", "tick", "--invocations", "1"), "--invocations must be 2..4"),
])
def test_bad_input_is_one_error_line(words: tuple[str, ...], message: str,
                                     capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = cli("interleave", LOCKED, *words)
    err = capsys.readouterr().err.strip()
    assert code == 2 and message in err and len(err.splitlines()) == 1
    assert err.startswith(LOCKED)


def test_only_input_hooks_are_interleaved(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = cli("interleave", str(EXAMPLES / "dynptr_records.yaml"), "--program", "consume")
    assert code == 2 and "only startup, every and watch" in capsys.readouterr().err


def test_missing_bundle(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = cli("interleave", "no/such.yaml", "--program", "tick")
    assert code == 2 and "no/such.yaml" in capsys.readouterr().err


def test_missing_program_flag_is_usage(capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = cli("interleave", LOCKED)
    assert code == 2


def test_a_faulting_program_is_reported(tmp_path: Path) -> None:
    text = Path(LOCKED).read_text().replace("        call bpf_spin_unlock\n", "")
    path = tmp_path / "leak.yaml"
    path.write_text(text)
    result = explore_interleavings(str(path), "tick")
    assert result.verdict == "VIOLATED" and "bpf_spin_unlock is missing" in result.reason


@pytest.mark.slow
def test_three_locked_invocations_hold() -> None:
    result = explore_interleavings(LOCKED, "tick", invocations=3)
    assert result.verdict == "HOLDS"
