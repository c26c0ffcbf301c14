"""Control-flow graph: blocks, dominators, loops, call graph, unreachable code, issues."""

from __future__ import annotations

from arspec.checker.cfg import build_cfg, get_successors
from arspec.reference.isa.assembler import assemble
from arspec.reference.isa.instructions import Exit, Program


def _cfg(text: str):  # type: ignore[no-untyped-def]
    return build_cfg(assemble(text))


def test_straight_line_is_one_block_without_loops() -> None:
    cfg = _cfg("r0 = 1\nr0 += 2\nexit")
    f = cfg.functions[0]
    assert list(f.blocks.nodes) == [0]
    assert f.blocks.nodes[0]["pcs"] == (0, 1, 2)
    assert not f.loops and not cfg.issues and cfg.unreachable == ()


def test_diamond_blocks_and_dominators() -> None:
    cfg = _cfg("r0 = 0\nif r2 > 1 goto +1\nr0 = 1\nexit")
    f = cfg.functions[0]
    assert sorted(f.blocks.nodes) == [0, 2, 3]
    assert f.idom[3] == 1 and f.idom[2] == 1
    assert not f.loops


def test_lddw_occupies_two_slots() -> None:
    program = assemble("r1 = 0x100000000 ll\nr0 = 0\nexit")
    assert get_successors(program, 0) == [2]


def test_natural_loop_and_back_edge() -> None:
    cfg = _cfg("r1 = 0\nl: r1 += 1\nif r1 < 10 goto l\nr0 = 0\nexit")
    f = cfg.functions[0]
    assert list(f.loops) == [1]
    loop = f.loops[1]
    assert loop.body == frozenset({1, 2}) and loop.latches == (2,)
    assert f.nesting[2] == (1,) and f.nesting[3] == ()


def test_nested_loops_have_parents() -> None:
    cfg = _cfg("r1 = 0\no: r2 = 0\ni: r2 += 1\nif r2 < 3 goto i\nr1 += 1\n"
               "if r1 < 3 goto o\nr0 = 0\nexit")
    f = cfg.functions[0]
    assert f.loops[2].parent == 1 and f.loops[1].parent is None
    assert f.nesting[2] == (1, 2)


def test_invalid_self_loop_is_a_loop() -> None:
    cfg = _cfg("l: goto l")
    assert list(cfg.functions[0].loops) == [0]


def test_unreachable_code_is_noted() -> None:
    cfg = _cfg("r0 = 0\nexit\nr0 = 1\nexit")
    assert cfg.unreachable == (2, 3)


def test_fall_off_the_end_is_an_issue() -> None:
    cfg = _cfg("r0 = 0")
    assert [(i.pc, i.kind) for i in cfg.issues] == [(0, "fall-off")]


def test_recursion_is_rejected_with_a_finding() -> None:
    cfg = _cfg("call f\nexit\nf: call f\nexit")
    assert [(i.pc, i.kind) for i in cfg.issues] == [(2, "recursion")]
    assert cfg.call_graph.has_edge(0, 2) and cfg.call_graph.has_edge(2, 2)


def test_mutual_recursion_is_rejected() -> None:
    cfg = _cfg("call f\nexit\nf: call g\nexit\ng: call f\nexit")
    assert [i.kind for i in cfg.issues] == ["recursion"]


def test_call_graph_of_local_functions() -> None:
    cfg = _cfg("call f\nexit\nf: call g\nexit\ng: r0 = 0\nexit")
    assert sorted(cfg.call_graph.edges) == [(0, 2), (2, 4)]
    assert cfg.call_targets == {0: 2, 2: 4}
    assert not cfg.issues


def test_irreducible_loop_is_reported() -> None:
    cfg = _cfg("if r2 > 1 goto b\na: r0 = 0\nif r2 > 2 goto b\nexit\nb: r0 = 1\ngoto a")
    assert [i.kind for i in cfg.issues] == ["irreducible"]


def test_empty_program_is_an_issue() -> None:
    cfg = build_cfg(Program(()))
    assert [i.kind for i in cfg.issues] == ["empty"]
    assert build_cfg(Program((Exit(),))).issues == ()


def test_invalid_solana_loader_rejection_is_refuted_without_running() -> None:
    from arspec.checker.verdict import Property, Verdict
    from arspec.checker.verifier import verify_program
    from arspec.reference.vm.profiles import SOLANA
    report = verify_program(assemble("r0 = 1\nr0 /= 0\nexit"), profile=SOLANA)
    assert [(f.pc, f.message) for f in report.findings] == [(1, "Program rejected at load")]
    assert report.verdict(Property.CONTROL) is Verdict.REFUTED
    assert report.verdict(Property.MEMORY) is Verdict.UNKNOWN
