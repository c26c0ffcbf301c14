"""The generated design pages: lifecycle diagrams drawn from the spec's tables."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from arspec.spec import lifecycles as lc

DOCS = Path(__file__).resolve().parents[2] / "docs"
sys.path.insert(0, str(DOCS))

import design  # noqa: E402

DOT = shutil.which("dot")
needs_dot = pytest.mark.skipif(DOT is None, reason="graphviz `dot` is not installed; "
                               "sh .ci/install-deps installs it")


def graphviz_blocks(text: str) -> list[str]:
    """Return the dot source of every ``.. graphviz::`` directive in ``text``."""
    blocks = []
    for match in re.finditer(r"^\.\. graphviz::\n((?:   .*\n|\n)+)", text, re.MULTILINE):
        body = [line[3:] for line in match.group(1).splitlines() if not line.startswith("   :")]
        blocks.append("\n".join(body).strip())
    return blocks


def edges(dot: str) -> set[tuple[str, str, str]]:
    """Return (from, to, label line) for every labelled edge of ``dot``."""
    found = set()
    for source, target, label in re.findall(r'"([^"]+)" -> "([^"]+)" \[label="([^"]*)"\]', dot):
        for event in label.split("\\n"):
            found.add((source, event, target))
    return found


@pytest.fixture(scope="module")
def lifecycles_page() -> str:
    return design.render_lifecycles()


def test_one_diagram_per_table_with_every_row(lifecycles_page: str) -> None:
    blocks = graphviz_blocks(lifecycles_page)
    assert len(blocks) == len(lc.LIFECYCLES)
    for life, dot in zip(lc.LIFECYCLES, blocks, strict=True):
        assert edges(dot) == {(r.source, r.event, r.target) for r in life.rows}
        assert f'__start -> "{life.initial}"' in dot


@needs_dot
def test_every_diagram_renders(lifecycles_page: str) -> None:
    for dot in graphviz_blocks(lifecycles_page):
        done = subprocess.run([str(DOT), "-Tsvg"], input=dot, capture_output=True, text=True,
                              check=False)
        assert done.returncode == 0 and not done.stderr, done.stderr
        assert "<svg" in done.stdout


def test_invalid_diagram_of_a_table_without_a_row() -> None:
    rows = [(r.source, r.event, r.target) for r in lc.TIMER.rows]
    dot = "\n".join(design.lifecycle_dot(lc.TIMER.states, lc.TIMER.initial, rows[1:]))
    assert rows[0] not in edges(dot)
    assert set(rows[1:]) <= edges(dot)


def test_parallel_rows_share_one_edge() -> None:
    rows = [("a", "e1", "b"), ("a", "e2", "b"), ("a", "e1", "b")]
    body = design.lifecycle_dot(("a", "b"), "a", rows)
    assert [line for line in body if "->" in line and "__start" not in line] == [
        '"a" -> "b" [label="e1\\ne2"];']


def test_quotes_in_names_are_escaped() -> None:
    assert design.dot_id('say "hi"') == '"say \\"hi\\""'


def test_every_data_flow_box_names_code_in_this_tree() -> None:
    for stage in design.DATA_FLOW:
        if stage.candidates:
            assert design.stage_code(stage) is not None, stage.key
    keys = {stage.key for stage in design.DATA_FLOW}
    assert all(target in keys for stage in design.DATA_FLOW for target in stage.feeds)


def test_invalid_data_flow_box_is_drawn_missing(monkeypatch: pytest.MonkeyPatch) -> None:
    gone = design.Stage("verifier", "verifier (z3)", ("arspec.checker.no_such_module.verify",),
                        ("verdicts",))
    flow = tuple(gone if s.key == "verifier" else s for s in design.DATA_FLOW)
    monkeypatch.setattr(design, "DATA_FLOW", flow)
    text = design.render_data_flow()
    assert '"verifier" [label="verifier (z3)\\n(missing)", color="red"' in text
    assert "**missing from this tree**" in text


@pytest.mark.parametrize("name", ["arspec.spec.loader.load_bundle", "arspec.spec",
                                  "arspec.spec.loader"])
def test_resolve_finds(name: str) -> None:
    assert design.resolve(name)


@pytest.mark.parametrize("name", ["arspec.spec.loader.no_such", "arspec.nothing.here",
                                  "arspec.spec.loader.load_bundle.__nope__", "zzz_missing"])
def test_invalid_resolve(name: str) -> None:
    assert not design.resolve(name)


# --------------------------------------------------------------------------- explorer page


def test_state_section_lists_every_runtime_field() -> None:
    import dataclasses

    from arspec.spec.state import RuntimeState

    text = design.render_explorer_state()
    for f in dataclasses.fields(RuntimeState):
        assert f"   * - ``{f.name}``" in text, f.name
    assert "``ran``" in text and "``error``" in text


def test_every_runtime_field_has_its_meaning() -> None:
    from arspec.spec.state import RuntimeState

    comments = design.field_comments(RuntimeState)
    assert sorted(name for name, text in comments.items() if not text) == []
    rows = re.findall(r"^   \* - ``(\w+)``\n     - .*\n     - (.*)$",
                      design.render_explorer_state(), re.MULTILINE)
    assert rows and all(meaning not in ("", "\\-") for _, meaning in rows)


def test_actions_section_lists_every_action_kind() -> None:
    import typing

    from arspec.spec.scheduler import Action

    text = design.render_explorer_actions()
    kinds = typing.get_args(Action)
    assert len(kinds) == 5
    for kind in kinds:
        assert f"scheduler.{kind.__name__}`" in text
    assert "``account: str``, ``field: str``, ``value: int``" in text


def _explore_options() -> set[str]:
    import argparse
    import importlib

    for name in ("arspec.cli.parser", "arspec.checker.cli"):
        try:
            parser = importlib.import_module(name).build_parser()
        except (ImportError, AttributeError):
            continue
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                explore = action.choices["explore"]
                return {s for a in explore._actions for s in a.option_strings}
    raise AssertionError("no spec-check parser found")


def test_reductions_name_real_switches() -> None:
    text = design.render_explorer_reductions()
    options = _explore_options()
    for title, switch, _, target in design.REDUCTIONS:
        assert f"{title}\n{'~' * len(title)}" in text
        assert switch in options, switch
        assert design.resolve(target), target
    assert "--no-reductions" in options


def test_invalid_reduction_without_its_statement(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(design, "REDUCTIONS", (("Made-up reduction", "--no-x", "autoclass",
                                                "arspec.model.engine.Bounds"),))
    with pytest.raises(ValueError, match="Made-up reduction"):
        design.render_explorer_reductions()


def test_checks_section_lists_every_catalogue_entry() -> None:
    from arspec.model import runtime_system as rs
    from arspec.spec.catalogue import CATALOGUE

    text = design.render_explorer_checks()
    rows = re.findall(r"^   \* - ``([a-z_]+)``\n     - .*\n     - (.*)$", text, re.MULTILINE)
    assert [name for name, _ in rows] == [*CATALOGUE, rs.STEP_INVARIANT, rs.REPLICA_INVARIANT]
    kinds = dict(rows)
    assert kinds["no_starvation"].startswith("liveness")
    assert "transition" in kinds["budget"] and "state" not in kinds["budget"]


def test_trace_section_states_the_format() -> None:
    from arspec.model import trace_file

    text = design.render_explorer_trace()
    assert f"``{trace_file.TRACE_FORMAT}``" in text
    assert f"``{trace_file.TRACE_VERSION}``" in text
    for action in ("ApplyWrite", "DomainWrite", "EnqueueDue", "RunHead", "EndSlot", "Watch"):
        assert f"``{action}``" in text


def test_field_comments_cover_only_the_next_field() -> None:
    from dataclasses import dataclass

    @dataclass
    class Sample:
        """Doc."""

        first: int
        #: second's comment
        second: int
        third: int

        #: its own
        fourth: int = 0

    assert design.field_comments(Sample) == {"first": "", "second": "second's comment",
                                             "third": "", "fourth": "its own"}
