"""``explore --timeout`` and ``replay --timeout`` in every pass, and the replica check's
share of ``--max-states`` (:mod:`arspec.model.stopping`)."""

from __future__ import annotations

import time
from pathlib import Path
from types import SimpleNamespace

import pytest

from arspec.cli import exit_codes
from arspec.cli import main as cli
from arspec.model import liveness, runtime_system, stopping
from tests.outcomes import explore_bundle
from tests.test_robustness import HEARTBEAT, ROOT, _one_line, _with_domains, run

TIMER_BROKEN = ROOT / "examples" / "explore" / "timer_broken.yaml"
ATTEMPT = ROOT / "examples" / "explore" / "starvation_attempt.yaml"


@pytest.fixture
def ticking(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the stopping clock advance one second per reading (deterministic timeouts)."""
    now = iter(range(10**9))
    monkeypatch.setattr(stopping, "time", SimpleNamespace(monotonic=lambda: float(next(now))))


def _trace(tmp_path: Path) -> Path:
    trace = tmp_path / "t.json"
    assert cli.main(["explore", str(TIMER_BROKEN), "--trace-out", str(trace),
                     "--no-timing"]) == exit_codes.EXIT_FAILED
    return trace


# --------------------------------------------------------------------------- bad values

@pytest.mark.parametrize("verb", ["explore", "replay"])
@pytest.mark.parametrize("value", ["nan", "inf", "-inf", "-1", "0", "1e308", "1e7", "ten", "",
                                   "9" * 5000, "0x10"])
def test_invalid_timeout_is_one_usage_line(verb: str, value: str, tmp_path: Path,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    target = str(HEARTBEAT) if verb == "explore" else str(tmp_path / "missing.json")
    code, out, err = run([verb, target, "--timeout", value], capsys)
    line = _one_line(err)
    assert code == exit_codes.EXIT_USAGE and out == ""
    assert "--timeout" in line and len(line) < 300


def test_invalid_timeout_with_workers(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["explore", str(HEARTBEAT), "--timeout", "5", "--workers", "2"], capsys)
    assert code == exit_codes.EXIT_USAGE
    assert "--timeout cannot be combined with --workers" in _one_line(err)


def test_invalid_replica_check_beyond_max_states_is_refused_at_once(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "domains.yaml"
    path.write_text(_with_domains(64, keys=2))  # 64 * 64 choices, 2 orders of 2 writes
    start = time.monotonic()
    code, out, err = run(["explore", str(path), "--max-states", "1000", "--max-depth", "1"],
                         capsys)
    assert code == exit_codes.EXIT_USAGE and out == ""
    assert "replica-determinism check compute up to 16384 states in one state, and its " \
           "states count in --max-states 1000" in _one_line(err)
    assert time.monotonic() - start < 10


# --------------------------------------------------------------------------- every pass

def test_timeout_in_the_state_search(ticking: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = run(["explore", str(HEARTBEAT), "--timeout", "5", "--no-timing"], capsys)
    first = out.splitlines()[0]
    assert code == exit_codes.EXIT_INCONCLUSIVE and err == ""
    assert first.startswith("BOUND-REACHED: --timeout 5 s passed after ")
    assert first.endswith("raise --timeout")
    assert "HOLDS" not in out and "bound reached: timeout" in out


def test_replica_check_states_count_in_max_states(tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "domains.yaml"
    path.write_text(_with_domains(3, keys=2))  # 36 states per check, 4 per choice
    code, out, _ = run(["explore", str(path), "--max-states", "40", "--no-timing"], capsys)
    assert code == exit_codes.EXIT_INCONCLUSIVE
    assert out.startswith("BOUND-REACHED: the replica-determinism check computed 40 states, "
                          "which count in --max-states")
    assert "replica_determinism    BOUND-REACHED" in out and "HOLDS" not in out


def test_timeout_in_the_replica_check(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                      capsys: pytest.CaptureFixture[str]) -> None:
    path = tmp_path / "domains.yaml"
    path.write_text(_with_domains(3, keys=2))
    calls = iter(range(10**9))
    real = runtime_system.get_stop_reason

    def late(reason: str | None = None) -> str | None:  # time runs out in the 3rd check
        return "timeout" if next(calls) == 20 else real()

    monkeypatch.setattr(runtime_system, "get_stop_reason", late)
    code, out, _ = run(["explore", str(path), "--timeout", "1000", "--no-timing"], capsys)
    assert code == exit_codes.EXIT_INCONCLUSIVE
    assert out.startswith("BOUND-REACHED: --timeout 1000 s passed after ")
    assert "replica_determinism    BOUND-REACHED" in out and "HOLDS" not in out


def test_timeout_in_the_component_search(monkeypatch: pytest.MonkeyPatch,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.setattr(liveness, "get_stop_reason", lambda: "timeout")
    code, out, _ = run(["explore", str(ATTEMPT), "--timeout", "1000", "--no-timing"], capsys)
    assert code == exit_codes.EXIT_INCONCLUSIVE
    assert out.splitlines()[0] == ("BOUND-REACHED: --timeout 1000 s passed while checking "
                                   "no_starvation (79 abstract states); raise --timeout")
    assert "no_starvation          BOUND-REACHED" in out


def test_timeout_in_replay(tmp_path: Path, ticking: None,
                           capsys: pytest.CaptureFixture[str]) -> None:
    trace = _trace(tmp_path)
    capsys.readouterr()
    code, out, err = run(["replay", str(trace), "--timeout", "3"], capsys)
    assert code == exit_codes.EXIT_INCONCLUSIVE and err == ""
    first = out.splitlines()[0]
    assert first.startswith("BOUND-REACHED: --timeout 3 s passed after 2 of ")
    assert out.endswith("verdict: BOUND-REACHED\n") and "reproduced" not in out


def test_timeout_stops_the_starvation_search_after_a_cut_safety_search(
        ticking: None, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(["explore", str(ATTEMPT), "--timeout", "3", "--no-timing"], capsys)
    assert code == exit_codes.EXIT_INCONCLUSIVE and "HOLDS" not in out
    assert out.startswith("BOUND-REACHED: --timeout 3 s passed after ")


def test_timed_out_explore_writes_no_trace(tmp_path: Path, ticking: None,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    trace = tmp_path / "t.json"
    code, out, _ = run(["explore", str(TIMER_BROKEN), "--timeout", "2", "--trace-out",
                        str(trace), "--no-timing"], capsys)
    assert code == exit_codes.EXIT_INCONCLUSIVE and not trace.exists()
    assert f"no trace written to {trace}" in out


def test_timeout_stops_the_explorer_step_of_verify(ticking: None,
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    # The proofs keep their own clock; only the explorer step after them reads the ticking one.
    code, out, _ = run(["verify", str(HEARTBEAT), "--timeout", "3", "--no-timing"], capsys)
    assert code == exit_codes.EXIT_INCONCLUSIVE
    assert "BOUND-REACHED: --timeout 3 s passed" in out
    assert out.rstrip().endswith("combined verdict: INCONCLUSIVE")


def test_no_limits_outside_a_command() -> None:
    assert stopping.get_stop_reason() is None
    stopping.request_stop("timeout")  # no command: nothing to stop
    assert stopping.get_stop_reason() is None and stopping.get_cut_reason() is None
    with stopping.stop_after(None):
        assert stopping.get_stop_reason() is None
        stopping.request_stop(stopping.REPLICA_STATES)
        stopping.request_stop(stopping.TIMEOUT)
        assert stopping.get_cut_reason() == stopping.REPLICA_STATES
    assert stopping.get_stop_reason() is None


# --------------------------------------------------------------------------- positive

def test_generous_timeout_changes_nothing(tmp_path: Path,
                                          capsys: pytest.CaptureFixture[str]) -> None:
    plain = explore_bundle(str(TIMER_BROKEN), timing=False)
    code, out, _ = run(["explore", str(TIMER_BROKEN), "--timeout", "1000", "--no-timing"],
                       capsys)
    assert (code, out) == plain
    trace = _trace(tmp_path)
    capsys.readouterr()
    code, out, _ = run(["replay", str(trace), "--timeout", "1000"], capsys)
    assert code == exit_codes.EXIT_FAILED and "reproduced: VIOLATED" in out
