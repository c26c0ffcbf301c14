"""The explorer on real bundles: catalogue verdicts, shortest traces, reductions, replay."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from arspec.model.explore_bundle import explore_verdicts
from arspec.spec import scheduler
from arspec.spec.errors import InputError
from tests.outcomes import explore_bundle, replay_trace

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "explore"

#: (bundle, invariant, shortest trace length) of every deliberately broken example.
BROKEN = [
    ("budget_broken", "budget", 3),
    ("timer_broken", "no_lost_timer", 6),
    ("double_broken", "no_double_execution", 8),
    ("cascade_broken", "watcher_cascade", 8),
]
HOLDING = ["budget_ok", "timer_ok", "cascade_ok"]


def path_of(name: str) -> str:
    return str(EXAMPLES / f"{name}.yaml")


@pytest.mark.parametrize(("name", "invariant", "length"), BROKEN)
def test_broken_bundle_violates_with_shortest_trace(name: str, invariant: str,
                                                    length: int) -> None:
    code, text = explore_bundle(path_of(name), reductions=False, timing=False)
    assert code == 1
    assert f"VIOLATED {invariant}:" in text
    assert f"  shortest trace: {length} steps" in text
    assert text.endswith("verdict: VIOLATED\n")


@pytest.mark.parametrize("name", HOLDING)
def test_holding_bundle_holds(name: str) -> None:
    code, text = explore_bundle(path_of(name), reductions=False, timing=False)
    assert code == 0, text
    assert "VIOLATED" not in text


@pytest.mark.parametrize("name", [b[0] for b in BROKEN] + HOLDING)
def test_reductions_agree_on_verdicts(name: str) -> None:
    assert explore_verdicts(path_of(name), slots=4, reductions=True) == \
        explore_verdicts(path_of(name), slots=4, reductions=False)


def test_pairs_trading_reductions_agree_and_cache_hits() -> None:
    path = str(ROOT / "examples" / "pairs_trading.yaml")
    on = explore_verdicts(path, slots=6, reductions=True)
    assert on == explore_verdicts(path, slots=6, reductions=False)
    assert set(on.values()) == {"HOLDS"}
    code, text = explore_bundle(path, slots=6, timing=False)
    assert code == 0
    assert "cache hit share 0.0%" not in text


@pytest.mark.parametrize(("name", "invariant", "length"), BROKEN)
def test_replayed_trace_reproduces(tmp_path: Path, name: str, invariant: str,
                                   length: int) -> None:
    trace = tmp_path / "trace.json"
    explore_bundle(path_of(name), reductions=False, trace_out=str(trace), timing=False)
    data = json.loads(trace.read_text())
    assert data["invariant"] == invariant and len(data["steps"]) == length
    code, text = replay_trace(str(trace))
    assert code == 1
    assert f"reproduced: VIOLATED {invariant}:" in text


def test_dot_output_for_a_violation(tmp_path: Path) -> None:
    dot = tmp_path / "t.dot"
    explore_bundle(path_of("budget_broken"), dot_out=str(dot), timing=False)
    assert dot.read_text().startswith('digraph "budget"')
    assert (tmp_path / "t.dot.states.dot").read_text().startswith('digraph "states"')


def test_bound_reached_is_never_holds() -> None:
    code, text = explore_bundle(path_of("budget_ok"), max_states=5, timing=False)
    assert code == 3
    assert "HOLDS" not in text
    assert "bound reached: max-states" in text


def test_output_is_identical_across_hash_seeds() -> None:
    script = ("from tests.outcomes import explore_bundle as e;"
              f"print(e({path_of('double_broken')!r}, timing=False)[1])")
    outs = []
    for seed in ("0", "1", "4242"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outs.append(subprocess.run([sys.executable, "-c", script], env=env, check=True,
                                   capture_output=True, text=True).stdout)
    assert outs[0] == outs[1] == outs[2]
    assert "VIOLATED no_double_execution" in outs[0]


# --------------------------------------------------------------------------- replica determinism

TWO_DOMAINS = (Path(__file__).parents[1] / "bundles" / "two_domains.yaml").read_text()


def test_replica_determinism_holds_for_the_spec(tmp_path: Path) -> None:
    path = tmp_path / "two.yaml"
    path.write_text(TWO_DOMAINS)
    code, text = explore_bundle(str(path), reductions=False, timing=False)
    assert code == 0 and "replica_determinism    HOLDS" in text


def test_invalid_order_dependent_scheduler_is_caught(tmp_path: Path,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    original = scheduler.process_domain_write

    def planted(state, config, action):  # type: ignore[no-untyped-def]
        events = original(state, config, action)
        # Planted bug: the cascade depth recorded depends on the arrival position.
        state.writer_depth[action.account] = len(state.domains_written)
        return events

    monkeypatch.setattr(scheduler, "process_domain_write", planted)
    path = tmp_path / "two.yaml"
    path.write_text(TWO_DOMAINS)
    for reductions in (False, True):
        code, text = explore_bundle(str(path), reductions=reductions, timing=False)
        assert code == 1
        assert "VIOLATED replica_determinism: order [env a.x = 1, env b.y = 3] gives " \
               "writer_depth" in text
        assert "but order [env b.y = 3, env a.x = 1]" in text


# --------------------------------------------------------------------------- bad input


def write(tmp_path: Path, text: str) -> str:
    path = tmp_path / "b.yaml"
    path.write_text(text)
    return str(path)


def test_invalid_missing_scenario(tmp_path: Path) -> None:
    text = TWO_DOMAINS[:TWO_DOMAINS.index("scenario:")]
    with pytest.raises(InputError, match="no `scenario`"):
        explore_bundle(write(tmp_path, text))


def test_invalid_unknown_field_in_invariant(tmp_path: Path) -> None:
    text = TWO_DOMAINS + "  invariants:\n    - {name: bad, expr: 'a.nope < 3'}\n"
    with pytest.raises(InputError, match="no field 'nope'"):
        explore_bundle(write(tmp_path, text))


def test_invalid_unbounded_domain(tmp_path: Path) -> None:
    values = ", ".join(str(v) for v in range(65))
    text = TWO_DOMAINS.replace("values: [3]", f"values: [{values}]")
    with pytest.raises(InputError, match="at most 64 values"):
        explore_bundle(write(tmp_path, text))


@pytest.mark.parametrize("slots", [0, 65, -1])
def test_invalid_slots(tmp_path: Path, slots: int) -> None:
    with pytest.raises(InputError, match=r"--slots must be in 1\.\.64"):
        explore_bundle(write(tmp_path, TWO_DOMAINS), slots=slots)


@pytest.mark.parametrize("flag", ["max_states", "max_depth"])
def test_invalid_bounds(tmp_path: Path, flag: str) -> None:
    with pytest.raises(InputError, match="must be a positive integer"):
        explore_bundle(write(tmp_path, TWO_DOMAINS), **{flag: 0})  # type: ignore[arg-type]


def test_invalid_missing_bundle(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="no such file"):
        explore_bundle(str(tmp_path / "missing.yaml"))


@pytest.mark.parametrize("content", ["not json", "[]", '{"format": "other"}',
                                     '{"format": "arspec-trace", "version": 9}',
                                     '{"format": "arspec-trace", "version": 1}'])
def test_invalid_trace_file(tmp_path: Path, content: str) -> None:
    trace = tmp_path / "t.json"
    trace.write_text(content)
    with pytest.raises(InputError):
        replay_trace(str(trace))


def test_invalid_trace_step_not_enabled(tmp_path: Path) -> None:
    trace = tmp_path / "t.json"
    trace.write_text(json.dumps({"format": "arspec-trace", "version": 1,
                                 "bundle": path_of("budget_ok"), "slots": 2,
                                 "invariant": "budget", "steps": [{"action": "RunHead"}]}))
    code, text = replay_trace(str(trace))
    assert code == 5
    assert text.splitlines()[-1] == ("not reproduced: step 1 (run head) is not enabled; the "
                                     "trace does not record the bundle's hash")


def test_invalid_trace_unknown_action(tmp_path: Path) -> None:
    trace = tmp_path / "t.json"
    trace.write_text(json.dumps({"format": "arspec-trace", "version": 1,
                                 "bundle": path_of("budget_ok"), "slots": 2,
                                 "invariant": "budget", "steps": [{"action": "Jump"}]}))
    with pytest.raises(InputError, match="unknown action 'Jump'"):
        replay_trace(str(trace))


def test_replay_of_fixed_bundle_is_not_reproduced(tmp_path: Path) -> None:
    trace = tmp_path / "t.json"
    explore_bundle(path_of("budget_broken"), reductions=False, trace_out=str(trace),
                   timing=False)
    data = json.loads(trace.read_text())
    data["bundle"] = path_of("budget_ok").replace("budget_ok", "budget_ok")
    data["steps"][0]["value"] = 5
    trace.write_text(json.dumps(data))
    code, text = replay_trace(str(trace))
    assert code == 5 and "not reproduced" in text
