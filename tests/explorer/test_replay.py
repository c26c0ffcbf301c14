"""Trace files: replay from any directory, one outcome for a changed bundle, lassos."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from test_catalogue_bundles import ATTEMPT, overtaking_scheduler

from arspec.cli.exit_codes import EXIT_NOT_REPRODUCED
from arspec.spec.errors import InputError
from tests.outcomes import explore_bundle, replay_trace

ROOT = Path(__file__).resolve().parents[2]
TIMER_BROKEN = ROOT / "examples" / "explore" / "timer_broken.yaml"


def make_trace(tmp_path: Path, source: Path = TIMER_BROKEN) -> tuple[Path, Path]:
    """Copy ``source`` to tmp/bundles/, explore it, write tmp/traces/t.json."""
    (tmp_path / "bundles").mkdir()
    (tmp_path / "traces").mkdir()
    bundle = tmp_path / "bundles" / source.name
    shutil.copy(source, bundle)
    trace = tmp_path / "traces" / "t.json"
    code, _ = explore_bundle(str(bundle), trace_out=str(trace), timing=False)
    assert code == 1
    return bundle, trace


def test_trace_stores_relative_path_and_hash(tmp_path: Path) -> None:
    _, trace = make_trace(tmp_path)
    data = json.loads(trace.read_text())
    assert data["version"] == 2
    assert data["bundle"] == "../bundles/timer_broken.yaml"
    assert len(data["bundle_sha256"]) == 64


def test_replay_from_another_directory(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                       ) -> None:
    make_trace(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    code, text = replay_trace(str(Path("..") / "traces" / "t.json"))
    assert code == 1 and "reproduced: VIOLATED no_lost_timer" in text
    assert "changed" not in text


def test_moved_tree_still_replays(tmp_path: Path) -> None:
    make_trace(tmp_path)
    moved = tmp_path.parent / (tmp_path.name + "-moved")
    shutil.copytree(tmp_path, moved)
    code, _ = replay_trace(str(moved / "traces" / "t.json"))
    assert code == 1


def test_changed_but_still_broken_bundle_reproduces_with_a_note(tmp_path: Path) -> None:
    bundle, trace = make_trace(tmp_path)
    bundle.write_text(bundle.read_text() + "\n# a comment\n")
    code, text = replay_trace(str(trace))
    assert code == 1
    assert "note: the bundle changed since the trace was written" in text


def test_invalid_fixed_bundle_is_one_outcome(tmp_path: Path) -> None:
    bundle, trace = make_trace(tmp_path)
    shutil.copy(ROOT / "examples" / "explore" / "timer_ok.yaml", bundle)
    code, text = replay_trace(str(trace))
    assert code == EXIT_NOT_REPRODUCED == 5
    last = text.splitlines()[-1]
    assert last.startswith("not reproduced: ")
    assert last.endswith("; the bundle changed since the trace was written")


def test_invalid_unchanged_bundle_not_reproduced_blames_the_spec(tmp_path: Path) -> None:
    _, trace = make_trace(tmp_path)
    data = json.loads(trace.read_text())
    data["steps"] = data["steps"][:1]
    trace.write_text(json.dumps(data))
    code, text = replay_trace(str(trace))
    assert code == 5
    assert text.splitlines()[-1].endswith("the bundle is unchanged: the spec or the runtime "
                                          "changed")


def test_invalid_missing_bundle_names_the_expected_place(tmp_path: Path) -> None:
    bundle, trace = make_trace(tmp_path)
    bundle.unlink()
    with pytest.raises(InputError, match=r"bundle '../bundles/timer_broken.yaml' \(relative "
                                         r"to the trace file\) is not at"):
        replay_trace(str(trace))


@pytest.mark.parametrize(("key", "value", "message"), [
    ("bundle_sha256", None, "bundle_sha256"),
    ("cycle_from", 99, "cycle_from"),
    ("cycle_from", True, "cycle_from"),
    ("slots", True, "slots"),
    ("steps", [{"action": "Watch", "position": -1}], "Watch needs a `position`"),
    ("steps", [{"action": "Watch", "position": 0}], "a Watch step belongs"),
])
def test_invalid_trace_fields(tmp_path: Path, key: str, value: object, message: str) -> None:
    _, trace = make_trace(tmp_path)
    data = json.loads(trace.read_text())
    data[key] = value
    trace.write_text(json.dumps(data))
    with pytest.raises(InputError, match=message):
        replay_trace(str(trace))


# --------------------------------------------------------------------------- lassos


def lasso_trace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    overtaking_scheduler(monkeypatch)
    bundle = tmp_path / "attempt.yaml"
    bundle.write_text(ATTEMPT.read_text() + "properties:\n  explore:\n    invariants: "
                      "[no_starvation]\n")
    trace = tmp_path / "lasso.json"
    code, text = explore_bundle(str(bundle), reductions=False, trace_out=str(trace),
                                timing=False)
    assert code == 1 and "VIOLATED no_starvation" in text
    return trace


def test_lasso_goes_to_trace_out_and_replays(tmp_path: Path,
                                             monkeypatch: pytest.MonkeyPatch) -> None:
    trace = lasso_trace(tmp_path, monkeypatch)
    data = json.loads(trace.read_text())
    assert data["invariant"] == "no_starvation" and data["kind"] == "lasso"
    assert data["cycle_from"] == 4 and len(data["steps"]) == 10
    assert {"action": "Watch", "position": 0} in data["steps"]
    code, text = replay_trace(str(trace))
    assert code == 1, text
    assert "reproduced: VIOLATED no_starvation: the watched item stays queued forever" in text
    assert "    5*" in text


def test_invalid_lasso_with_a_step_removed_is_not_reproduced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trace = lasso_trace(tmp_path, monkeypatch)
    data = json.loads(trace.read_text())
    del data["steps"][-1]
    trace.write_text(json.dumps(data))
    code, text = replay_trace(str(trace))
    assert code == 5 and "not reproduced: the cycle does not return" in text


def test_invalid_lasso_on_the_real_scheduler_is_not_reproduced(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    trace = lasso_trace(tmp_path, monkeypatch)
    monkeypatch.undo()
    code, text = replay_trace(str(trace))
    assert code == 5, text
    assert text.splitlines()[-1].startswith("not reproduced: ")


def test_trace_tables_name_the_callback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                        ) -> None:
    trace = lasso_trace(tmp_path, monkeypatch)
    _, text = replay_trace(str(trace))
    assert "setup.big (timer)" in text and "+setup.spin" in text
    assert "setup (startup)" in text


def test_invalid_entry_programs_keep_their_plain_name() -> None:
    _, text = explore_bundle(str(TIMER_BROKEN), timing=False)
    assert "beat (startup)" in text and "beat." not in text


def test_array_keys_print_as_indexes() -> None:
    from arspec.model.explore_bundle import describe_map_keys
    from arspec.spec.loader import load_bundle

    bundle = load_bundle(str(ROOT / "benchmarks" / "scale_bundle.yaml"))
    assert describe_map_keys("timer beat[01000000] due", bundle) == "timer beat[1] due"
    assert describe_map_keys("jobs[00000000] and clock[02000000]", bundle) == \
        "jobs[0] and clock[2]"


@pytest.mark.parametrize("text", ["spreads[00000000]", "nomap[00000000]", "beat[0000]",
                                  "beat[0000000000]", "xbeat[00000000]", "beat[zz000000]"])
def test_invalid_other_keys_stay_as_written(text: str) -> None:
    from arspec.model.explore_bundle import describe_map_keys
    from arspec.spec.loader import load_bundle

    bundle = load_bundle(str(ROOT / "benchmarks" / "scale_bundle.yaml"))
    assert describe_map_keys(text, bundle) == text


def test_violation_reason_names_the_array_index() -> None:
    _, text = explore_bundle(str(TIMER_BROKEN), timing=False)
    assert "timer hb[0] armed for slot" in text and "hb[00000000]" not in text


def test_pictures_show_programs_changes_and_the_violation(tmp_path: Path) -> None:
    dot = tmp_path / "t.dot"
    explore_bundle(str(TIMER_BROKEN), dot_out=str(dot), timing=False)
    trace = dot.read_text()
    assert 'label="run head\\nreset (watch)\\n113 CU\\nfifo 1 -> 0"' in trace
    assert 'label="env admin.reset = 1\\nadmin.reset 0 -> 1"' in trace
    assert "violation [shape=note, color=red, label=\"VIOLATED no_lost_timer\\ntimer hb[0]" \
        in trace
    assert "t6 [label=\"6: slot 1 run, FIFO 0, 113 CU\", color=red, penwidth=2];" in trace
    graph = (tmp_path / "t.dot.states.dot").read_text()
    assert 's0 [label="0: slot 0 writes, FIFO 0", shape=doublecircle, style=bold, ' \
           'color=red, penwidth=2];' in graph
    assert "s0 -> s1 [label=\"0: enqueue due work\", color=red, penwidth=2];" in graph
    assert graph.count("color=red") == 11


def test_invalid_holding_bundle_graph_has_no_red_path(tmp_path: Path) -> None:
    dot = tmp_path / "t.dot"
    code, _ = explore_bundle(str(ROOT / "examples" / "explore" / "timer_ok.yaml"),
                             dot_out=str(dot), timing=False)
    assert code == 0
    text = dot.read_text()
    assert text.startswith('digraph "states"') and "red" not in text
    assert 's0 [label="0: slot 0 writes, FIFO 0", shape=doublecircle];' in text
