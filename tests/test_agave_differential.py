"""Differential tests: arspec's ``solana`` profile (SBPFv0) against Agave's VM (LiteSVM).

A fixed-seed sample of :func:`~arspec.reference.agave_diff.generate_case` programs runs on
both; refusal, status (error code, fault kind, address and size), compute units and logs
must agree. ``benchmarks/diff_agave.py`` runs the same comparison on 100,000 programs.
Skipped, with the reason printed, only when ``solders`` cannot be imported.
"""

from __future__ import annotations

import random

import pytest

from arspec.reference.agave_diff import (
    AgaveOracle,
    Case,
    Outcome,
    classify,
    generate_case,
    run_arspec,
)

pytestmark = pytest.mark.agave


@pytest.fixture(scope="module")
def oracle() -> AgaveOracle:
    try:
        return AgaveOracle()
    except ImportError as err:
        print(f"Agave differential tests skipped: {err}")
        pytest.skip(f"solders (LiteSVM) is not installed: {err}")


def test_invalid_divergences_are_classified() -> None:
    ok = Outcome(False, "success", 5, ("Program log: a",))
    assert classify(ok, ok) is None
    assert classify(ok, Outcome(True, "refused at pc 0", 0, ())) == "load: refused by one side only"
    assert classify(Outcome(True, "refused at pc 1", 0, ()),
                    Outcome(True, "refused at pc 0", 0, ())) == "load: refusal pc"
    assert classify(ok, Outcome(False, "Custom(1)", 5, ())) == "status: Custom(1)"
    assert classify(ok, Outcome(False, "success", 6, ok.logs)) == "compute units"
    assert classify(ok, Outcome(False, "success", 5, ())) == "logs"


def test_invalid_oracle_sees_a_planted_difference(oracle: AgaveOracle) -> None:
    # mov r0, 0; exit costs 2 units on Agave; a claim of 3 must be caught.
    case = Case(bytes.fromhex("b700000000000000" "9500000000000000"))
    program_id = oracle.program_id()
    theirs = oracle.run(case, program_id)
    assert theirs == Outcome(False, "success", 2, ())
    assert classify(Outcome(False, "success", 3, ()), theirs) == "compute units"


@pytest.mark.parametrize("seed", range(4))
def test_random_programs_match_agave(oracle: AgaveOracle, seed: int) -> None:
    rng = random.Random(seed)
    clock = oracle.clock()
    found = []
    for _ in range(100):
        case = generate_case(rng)
        program_id = oracle.program_id()
        ours = run_arspec(case, clock, program_id, engine="interpreter" if seed % 2 else "auto")
        theirs = oracle.run(case, program_id)
        divergence = classify(ours, theirs)
        if divergence is not None:
            found.append(f"{divergence}: {case.text.hex()} {case.sites} {case.data.hex()} "
                         f"limit {case.limit}\n  arspec {ours}\n  agave  {theirs}")
    assert not found, "\n".join(found[:3])
