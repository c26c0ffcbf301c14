"""
Control flow
============

The control-flow graph of a decoded program: instruction successors, basic blocks (a
networkx ``DiGraph`` per function), dominators, back edges and natural loops, the call graph
of bpf-to-bpf functions, unreachable code and instructions that can fall off the end.

Structural defects (a jump out of the program or into the middle of a ``lddw``, recursion,
an irreducible loop, an indirect call) are returned as :class:`CfgIssue` values: the
verifier turns each into a finding and never stops at the first one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import networkx as nx

from arspec.reference.isa.instructions import (
    CallLocal,
    Callx,
    Exit,
    Ja,
    Jump,
    Program,
    jump_target,
    slot_count,
)


class TimeLimitReached(Exception):
    """Raised once a wall-clock deadline (``time.monotonic()``) has passed."""


def check_deadline(deadline: float | None) -> None:
    """Raise :class:`TimeLimitReached` if ``deadline`` has passed."""
    if deadline is not None and time.monotonic() > deadline:
        raise TimeLimitReached()


@dataclass(frozen=True)
class CfgIssue:
    """A structural defect at ``pc``: ``kind`` is a stable key, ``message`` the phrase."""

    pc: int
    kind: str
    message: str
    detail: str


@dataclass(frozen=True)
class Loop:
    """A natural loop: ``header``, the pcs of its ``body`` (header included), its ``latches``.

    ``latches`` are the pcs whose edge to ``header`` is a back edge. ``parent`` is the header
    of the innermost enclosing loop of the same function, or ``None``.
    """

    header: int
    body: frozenset[int]
    latches: tuple[int, ...]
    parent: int | None


@dataclass
class Function:
    """A bpf-to-bpf function: its ``entry`` pc, its pcs and its instruction-level graph."""

    entry: int
    pcs: tuple[int, ...]
    graph: nx.DiGraph
    blocks: nx.DiGraph
    idom: dict[int, int]
    loops: dict[int, Loop] = field(default_factory=dict)
    #: pc -> loop headers containing it, outermost first.
    nesting: dict[int, tuple[int, ...]] = field(default_factory=dict)
    #: Reverse post-order of ``pcs`` over forward (non-back) edges.
    order: tuple[int, ...] = ()


@dataclass
class ControlFlow:
    """Everything the verifier needs to know about the shape of a program."""

    program: Program
    functions: dict[int, Function]
    call_graph: nx.DiGraph
    #: pc of a ``call`` to a local function -> entry pc of the callee.
    call_targets: dict[int, int]
    unreachable: tuple[int, ...]
    issues: tuple[CfgIssue, ...]
    #: The pc execution starts at (0, or a callback's entry).
    entry: int = 0

    def function_of(self, pc: int) -> Function:
        """Return the function whose body holds ``pc`` (the first by entry if shared)."""
        for entry in sorted(self.functions):
            if pc in self.functions[entry].graph:
                return self.functions[entry]
        raise KeyError(pc)

    @property
    def has_loops(self) -> bool:
        """Return whether any function has a loop."""
        return any(f.loops for f in self.functions.values())


def is_instruction_start(program: Program, pc: int) -> bool:
    """Return whether ``pc`` is inside the program and not a ``lddw`` second slot."""
    return 0 <= pc < len(program.slots) and program.slots[pc] is not None


def get_successors(program: Program, pc: int) -> list[int]:
    """Return the intra-function successors of ``pc`` (a local call falls through).

    Targets may lie outside the program; :func:`build_cfg` reports those.
    """
    insn = program.slots[pc]
    assert insn is not None
    if isinstance(insn, Exit | Callx):
        return []
    if isinstance(insn, Ja):
        target = jump_target(pc, insn)
        assert target is not None
        return [target]
    following = pc + slot_count(insn)
    if isinstance(insn, Jump):
        target = jump_target(pc, insn)
        assert target is not None
        return [following] if target == following else [following, target]
    return [following]


def _function_pcs(program: Program, entry: int,
                  issues: list[CfgIssue]) -> tuple[nx.DiGraph, set[int]]:
    """Walk one function from ``entry``; return its graph and the local call sites."""
    graph = nx.DiGraph()
    graph.add_node(entry)
    calls: set[int] = set()
    stack = [entry]
    seen = {entry}
    while stack:
        pc = stack.pop()
        insn = program.slots[pc]
        if isinstance(insn, CallLocal):
            calls.add(pc)
        if isinstance(insn, Callx):
            issues.append(CfgIssue(pc, "callx", "Indirect call not supported",
                                   f"callx r{insn.reg}"))
        for succ in get_successors(program, pc):
            if succ == len(program.slots):
                issues.append(CfgIssue(pc, "fall-off", "Execution can fall off the end",
                                       f"pc {pc} + 1 < {len(program.slots)}"))
                continue
            if not is_instruction_start(program, succ):
                issues.append(CfgIssue(pc, "bad-jump", "Invalid jump target",
                                       f"target {succ}"))
                continue
            graph.add_edge(pc, succ)
            if succ not in seen:
                seen.add(succ)
                stack.append(succ)
    return graph, calls


def _block_graph(program: Program, graph: nx.DiGraph, entry: int) -> nx.DiGraph:
    """Group straight-line runs of ``graph`` into basic blocks named by their first pc."""
    leaders = {entry}
    for pc in graph.nodes:
        succs = list(graph.successors(pc))
        if len(succs) != 1 or isinstance(program.slots[pc], Jump | Ja):
            leaders.update(succs)
        if graph.in_degree(pc) != 1:
            leaders.add(pc)
        for succ in succs:
            if graph.in_degree(succ) != 1:
                leaders.add(succ)
    blocks = nx.DiGraph()
    for leader in sorted(leaders):
        pcs = [leader]
        pc = leader
        while True:
            succs = list(graph.successors(pc))
            if len(succs) != 1 or succs[0] in leaders:
                break
            pc = succs[0]
            pcs.append(pc)
        blocks.add_node(leader, pcs=tuple(pcs))
        for succ in graph.successors(pcs[-1]):
            blocks.add_edge(leader, succ)
    return blocks


def _dominator_intervals(idom: dict[int, int], entry: int) -> dict[int, tuple[int, int]]:
    """Return ``pc -> (pre, post)`` numbers of a DFS of the dominator tree.

    ``a`` dominates ``b`` exactly when ``a``'s interval contains ``b``'s.
    """
    children: dict[int, list[int]] = {}
    for node, parent in idom.items():
        if node != parent:
            children.setdefault(parent, []).append(node)
    intervals: dict[int, tuple[int, int]] = {}
    pre: dict[int, int] = {}
    clock = 0
    stack: list[tuple[int, bool]] = [(entry, False)]
    while stack:
        node, leaving = stack.pop()
        if leaving:
            intervals[node] = (pre[node], clock)
            clock += 1
            continue
        pre[node] = clock
        clock += 1
        stack.append((node, True))
        stack.extend((child, False) for child in sorted(children.get(node, ()), reverse=True))
    return intervals


def _loops(function: Function, issues: list[CfgIssue],
           deadline: float | None = None) -> None:
    """Find back edges and natural loops; report retreating edges that are not back edges.

    Near-linear: dominance is an interval test on the dominator tree, and each loop body
    is walked once.
    """
    graph, idom, entry = function.graph, function.idom, function.entry
    intervals = _dominator_intervals(idom, entry)

    def dominates(a: int, b: int) -> bool:
        (a_pre, a_post), (b_pre, b_post) = intervals[a], intervals[b]
        return a_pre <= b_pre and b_post <= a_post

    latches: dict[int, list[int]] = {}
    for u, v in sorted(graph.edges):
        if dominates(v, u):
            latches.setdefault(v, []).append(u)
    check_deadline(deadline)
    forward = nx.DiGraph()
    forward.add_nodes_from(graph.nodes)
    forward.add_edges_from((u, v) for u, v in graph.edges
                           if not (v in latches and u in latches[v]))
    if not nx.is_directed_acyclic_graph(forward):
        cycle = nx.find_cycle(forward)
        pc = min(u for u, _ in cycle)
        issues.append(CfgIssue(pc, "irreducible", "Irreducible control flow",
                               "every loop has a single entry"))
        return
    bodies: dict[int, frozenset[int]] = {}
    for header, ls in latches.items():
        check_deadline(deadline)
        body = {header}
        work = [x for x in ls if x != header]
        body.update(work)
        while work:
            node = work.pop()
            for pred in graph.predecessors(node):
                if pred not in body:
                    body.add(pred)
                    work.append(pred)
        bodies[header] = frozenset(body)
    # Natural loops with distinct headers are nested or disjoint, so larger bodies first
    # lists the loops containing a pc outermost first.
    headers = sorted(bodies, key=lambda h: (-len(bodies[h]), h))
    nesting: dict[int, list[int]] = {pc: [] for pc in graph.nodes}
    for header in headers:
        for pc in bodies[header]:
            nesting[pc].append(header)
    for header in headers:
        around = nesting[header]
        parent = around[-2] if len(around) >= 2 else None
        function.loops[header] = Loop(header, bodies[header], tuple(latches[header]), parent)
    for pc in graph.nodes:
        function.nesting[pc] = tuple(nesting[pc])
    check_deadline(deadline)
    rank = {pc: i for i, pc in enumerate(nx.lexicographical_topological_sort(forward))}
    function.order = tuple(sorted(graph.nodes, key=lambda pc: rank[pc]))


def _make_function(program: Program, entry: int, issues: list[CfgIssue],
                   deadline: float | None = None) -> tuple[Function, set[int]]:
    graph, calls = _function_pcs(program, entry, issues)
    check_deadline(deadline)
    blocks = _block_graph(program, graph, entry)
    check_deadline(deadline)
    idom = dict(nx.immediate_dominators(graph, entry))
    check_deadline(deadline)
    function = Function(entry, tuple(sorted(graph.nodes)), graph, blocks, idom)
    _loops(function, issues, deadline)
    return function, calls


def build_cfg(program: Program, entry: int = 0, *,
              deadline: float | None = None) -> ControlFlow:
    """Build the control flow of ``program`` from pc ``entry``.

    Parameters
    ----------
    program
        A decoded program.
    entry
        Where execution starts: 0, or the pc of a callback function.
    deadline
        ``time.monotonic()`` after which :class:`TimeLimitReached` is raised (``None``: no
        limit).

    Returns
    -------
    ControlFlow
        Functions, loops, call graph, unreachable pcs and structural issues (sorted by pc).
    """
    issues: list[CfgIssue] = []
    functions: dict[int, Function] = {}
    call_graph = nx.DiGraph()
    call_targets: dict[int, int] = {}
    root = entry
    if not 0 <= root < len(program.slots) or program.slots[root] is None:
        issues.append(CfgIssue(root, "empty", "Empty program", "len(program) > 0"))
        return ControlFlow(program, {}, call_graph, {}, (), tuple(issues), root)
    work = [root]
    call_graph.add_node(root)
    while work:
        entry = work.pop()
        if entry in functions:
            continue
        function, calls = _make_function(program, entry, issues, deadline)
        functions[entry] = function
        for site in sorted(calls):
            insn = program.slots[site]
            target = jump_target(site, insn) if insn is not None else None
            assert target is not None
            if not is_instruction_start(program, target):
                issues.append(CfgIssue(site, "bad-call", "Invalid call target",
                                       f"target {target}"))
                continue
            call_targets[site] = target
            call_graph.add_edge(entry, target, site=site)
            work.append(target)
    for cycle in sorted(sorted(c) for c in nx.simple_cycles(call_graph)):
        sites = sorted(site for site, target in call_targets.items() if target in cycle
                       and any(site in functions[e].graph for e in cycle))
        pc = sites[0] if sites else cycle[0]
        path = " -> ".join(str(e) for e in [*cycle, cycle[0]])
        issues.append(CfgIssue(pc, "recursion", "Recursive call",
                               f"acyclic call graph, cycle {path}"))
    reached = set().union(*(f.graph.nodes for f in functions.values()))
    unreachable = tuple(pc for pc, insn in program.instructions() if pc not in reached)
    unique = sorted(set(issues), key=lambda i: (i.pc, i.kind, i.detail))
    return ControlFlow(program, functions, call_graph, call_targets, unreachable,
                       tuple(unique), root)

