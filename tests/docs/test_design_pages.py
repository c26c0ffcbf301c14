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
