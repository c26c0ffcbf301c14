"""Counterexamples do not depend on what the process verified before.

z3 numbers terms by ids it recycles when Python frees them (the cyclic collector included),
and its search follows those ids; each verification therefore runs in its own z3 context
(:func:`~arspec.checker.solver.fresh_context`). Every case below is verified first in a fresh
process, then here after other verifications, under ``gc.set_threshold(1)`` and with the
collector off: the JSON must be byte-identical. The program cases are corpus programs whose
counterexample changed with the history before the fresh context.
"""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml

from arspec.checker import solver as z
from arspec.checker.verdict import Report
from arspec.checker.verifier import verify_program
from arspec.checker.verify_bundle import verify_bundle
from arspec.cli.render import VerifyRun
from arspec.cli.render.json import counterexample_json, render_verify
from arspec.reference.isa.assembler import assemble
from arspec.reference.isa.instructions import AluOp
from arspec.reference.vm.profiles import LINUX, get_profile

ROOT = Path(__file__).resolve().parents[2]
CORPUS = Path(__file__).parent / "corpus"
BUNDLES = ("broken_dynptr_null", "broken_xdp_unchecked", "broken_nondeterministic",
           "broken_over_budget", "broken_spin_lock_held")
PROGRAMS = (("input", "shift by zero keeps the unchecked value"),
            ("input", "signed check lets negative index through"),
            ("input", "32-bit check on w3 then 64-bit use of r3"),
            ("input", "jset does not bound a range"),
            ("input", "index from input data not checked"),
            ("calls", "helper result used as a pointer"),
            ("compute", "input-dependent path over budget"),
            ("stack", "variable offset into the stack unbounded"))
CASES = [f"bundle:{b}" for b in BUNDLES] + [f"program:{f}:{t}" for f, t in PROGRAMS]


def _program_json(report: Report) -> str:
    return json.dumps({
        "verdicts": {p.value: v.value for p, v in report.verdicts.items()},
        "findings": [{"pc": f.pc, "property": f.property.value, "verdict": f.verdict.value,
                      "text": f.render(), "note": f.note,
                      "counterexample": counterexample_json(f.counterexample)}
                     for f in report.findings],
        "notes": report.notes, "worst_case_cu": report.worst_case_cu}, sort_keys=True)


def render(case: str) -> str:
    """Verify ``case`` and return its JSON report."""
    kind, _, rest = case.partition(":")
    if kind == "bundle":
        path = str(ROOT / "examples" / f"{rest}.yaml")
        return render_verify(VerifyRun(verify_bundle(path, timeout=120.0), None, 0))
    stem, _, title = rest.partition(":")
    cases = yaml.safe_load((CORPUS / f"{stem}.yaml").read_text(encoding="utf-8"))
    (found,) = [c for c in cases if c["test-case"] == title]
    extra = {k: found[k] for k in ("budget", "max_input") if k in found}
    return _program_json(verify_program(assemble(found["code"]),
                                        profile=get_profile(found["profile"]), **extra))


_FRESH = """
import importlib.util, json, os
spec = importlib.util.spec_from_file_location("solver_history", {path!r})
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
CASES, render = module.CASES, module.render
out = {{}}
for case in CASES:
    read, write = os.pipe()
    if os.fork() == 0:
        os.close(read)
        os.write(write, render(case).encode())
        os._exit(0)
    os.close(write)
    with os.fdopen(read, "rb") as pipe:
        out[case] = pipe.read().decode()
    os.wait()
print(json.dumps(out))
"""


@cache
def fresh() -> dict[str, str]:
    """Return every case's JSON, each verified first in a process that verified nothing."""
    env = {**os.environ, "PYTHONHASHSEED": "0"}
    done = subprocess.run([sys.executable, "-c", _FRESH.format(path=__file__)],
                          capture_output=True, text=True, check=True, env=env, timeout=600)
    result: dict[str, str] = json.loads(done.stdout)
    return result


@contextmanager
def threshold_one() -> Iterator[None]:
    old = gc.get_threshold()
    gc.set_threshold(1)
    try:
        yield
    finally:
        gc.set_threshold(*old)


@contextmanager
def collector_off() -> Iterator[None]:
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def test_fresh_baseline_has_counterexamples() -> None:
    reports = fresh()
    assert sorted(reports) == sorted(CASES)
    for case, text in reports.items():
        assert '"counterexample": {' in text, case


@pytest.mark.parametrize("order", [1, -1], ids=["forward", "backward"])
def test_same_after_other_verifications(order: int) -> None:
    """Each case after the others (one pass each way: every case follows some others)."""
    differ = [case for case in CASES[::order] if render(case) != fresh()[case]]
    assert differ == []


@pytest.mark.parametrize("around", [threshold_one, collector_off], ids=["threshold1", "gc-off"])
@pytest.mark.parametrize("case", CASES)
def test_same_whatever_the_collector(case: str, around: Callable[[], Any]) -> None:
    with around():
        assert render(case) == fresh()[case]


def _contexts() -> int:
    kind = type(z._current.ctx)
    return sum(1 for o in gc.get_objects() if type(o) is kind)


def test_no_context_outlives_its_verification() -> None:
    """Without a full collection: leaving the block frees the context with its garbage."""
    gc.collect()
    before = _contexts()
    for case in CASES:
        render(case)
    assert _contexts() == before


def test_no_context_outlives_it_with_the_collector_off() -> None:
    gc.collect()
    before = _contexts()
    with collector_off():
        for case in CASES[:3]:
            render(case)
        assert _contexts() == before


def test_terms_do_not_cross_contexts() -> None:
    outside = z.var("x")
    with z.fresh_context(), pytest.raises(z.SolverError):
        z.alu(AluOp.ADD, outside, z.var("y"), is64=True, profile=LINUX)


def test_a_term_from_a_finished_context_is_refused() -> None:
    with z.fresh_context():
        inside = z.var("x")
    with pytest.raises(z.SolverError):
        z.alu(AluOp.ADD, inside, z.var("y"), is64=True, profile=LINUX)


def test_a_literal_of_another_context_is_refused_not_read_by_its_id() -> None:
    outside = z.true()
    with z.fresh_context():
        with pytest.raises(z.SolverError, match="another z3 context"):
            z.truth_of(outside)
        inside = z.false()
    with pytest.raises(z.SolverError, match="another z3 context"):
        z.truth_of(inside)


def test_literals_are_recognised_in_each_context() -> None:
    with z.fresh_context():
        assert z.truth_of(z.true()) is True and z.truth_of(z.false()) is False
        assert z.truth_of(z.eq(z.const(1), z.const(1))) is True
        assert z.truth_of(z.eq(z.var("a"), z.const(1))) is None
        with z.fresh_context():
            assert z.truth_of(z.ult(z.const(2), z.const(1))) is False
        assert z.truth_of(z.not_(z.false())) is True
    assert z.truth_of(z.and_(z.true(), z.true())) is True


def test_collector_state_is_restored() -> None:
    assert gc.isenabled()
    with z.fresh_context():
        assert not gc.isenabled()
    assert gc.isenabled()
    with collector_off():
        with z.fresh_context():
            assert not gc.isenabled()
        assert not gc.isenabled()
    with pytest.raises(RuntimeError), z.fresh_context():
        raise RuntimeError("inside")
    assert gc.isenabled()
