"""Every invariant of proofs/ is PROVED; every twin is REFUTED and replays on the mutated spec."""

from __future__ import annotations

import inspect
import json

import pytest

from arspec.checker.solver import SolverConfig
from arspec.checker.verdict import Verdict
from arspec.proofs import catalogue, core, mutation, ringbuf, tailcall, timers
from arspec.spec import ringbuf as spec_ringbuf
from arspec.spec.catalogue import CATALOGUE as SPEC_CATALOGUE
from arspec.spec.errors import InputError

CLAIMS = catalogue.get_claims()
TWINS = [(s, t) for s in catalogue.SYSTEMS for t in s.twins]


@pytest.fixture(scope="module")
def proved() -> dict[str, core.ProofResult]:
    return {r.claim: r for r in catalogue.prove()}


@pytest.mark.parametrize("name", [c.name for _, c in CLAIMS])
def test_claim_is_proved(proved: dict[str, core.ProofResult], name: str) -> None:
    result = proved[name]
    assert result.verdict is Verdict.PROVED, result.reason
    assert result.counterexample is None and result.obligations > 0


@pytest.mark.parametrize("name", [c.name for _, c in CLAIMS])
def test_every_claim_has_a_twin(name: str) -> None:
    assert catalogue.get_twins(name)


@pytest.mark.parametrize(("system", "twin"), TWINS, ids=[t.name for _, t in TWINS])
def test_twin_is_refuted_and_replays_on_the_mutated_spec(system: core.System,
                                                          twin: core.Twin) -> None:
    checked = catalogue.check_twin(system, twin)
    assert checked.result.verdict is Verdict.REFUTED
    cex = checked.result.counterexample
    assert cex is not None and cex.obligation != "initial"
    # The counterexample's pre-state satisfies the invariant: the break is the twin's step.
    assert core.is_invariant_state(system, cex.consts, cex.pre)
    assert checked.replay is not None
    # The mutated spec reaches a state that breaks the claim (or its invariant) ...
    assert checked.replay.violated
    # ... and the real spec, from the same state, refuses the step or keeps the claim.
    assert checked.replay.spec_holds
    assert checked.confirmed


@pytest.mark.parametrize(("system", "twin"), TWINS, ids=[t.name for _, t in TWINS])
def test_twin_mutation_changes_the_spec_and_is_undone(system: core.System,
                                                       twin: core.Twin) -> None:
    module = __import__(twin.mutation.module, fromlist=["_"])
    original = getattr(module, twin.mutation.function)
    mutated = mutation.mutate(twin.mutation)
    assert mutated is not original
    with mutation.mutated_spec(twin.mutation):
        assert getattr(module, twin.mutation.function) is not original
    assert getattr(module, twin.mutation.function) is original


def test_counterexamples_are_deterministic() -> None:
    twin = ringbuf.TWINS[0]
    first = core.prove_twin(ringbuf.SYSTEM, twin).counterexample
    second = core.prove_twin(ringbuf.SYSTEM, twin).counterexample
    assert first is not None and first == second
    assert json.dumps(first.as_json(), sort_keys=True) == json.dumps(second.as_json(),
                                                                     sort_keys=True)


def test_select_claims_by_group_and_name() -> None:
    names = [c.name for _, c in catalogue.select_claims(["ringbuf", "tailcall.limit"])]
    assert names == ["ringbuf.positions", "ringbuf.disjoint_bytes", "ringbuf.no_overwrite",
                     "ringbuf.fifo",
                     "ringbuf.exact_space", "tailcall.limit"]


def test_invalid_unknown_claim_name() -> None:
    with pytest.raises(InputError, match="unknown invariant 'ringbuff'"):
        catalogue.select_claims(["ringbuff"])


def test_invalid_tiny_rlimit_gives_unknown_never_proved() -> None:
    result = core.prove_claim(tailcall.SYSTEM, tailcall.CLAIMS[0],
                              config=SolverConfig(rlimit=1))
    assert result.verdict is Verdict.UNKNOWN and "resource" in result.reason


def test_invalid_mutation_text_not_found() -> None:
    bad = mutation.Mutation("arspec.spec.ringbuf", "process_ringbuf_reserve",
                        (("no such text", "x"),))
    with pytest.raises(ValueError, match="occurs 0 times"):
        mutation.mutate(bad)


def test_invalid_mutation_text_found_twice() -> None:
    bad = mutation.Mutation("arspec.spec.ringbuf", "process_ringbuf_reserve",
                        (("return None", "return 0"),))
    with pytest.raises(ValueError, match="times, not once"):
        mutation.mutate(bad)


def test_mutated_spec_restores_after_an_exception() -> None:
    change = ringbuf.TWINS[0].mutation
    original = spec_ringbuf.process_ringbuf_reserve
    with pytest.raises(RuntimeError), mutation.mutated_spec(change):
        raise RuntimeError
    assert spec_ringbuf.process_ringbuf_reserve is original
    assert "rb.size - 1" in inspect.getsource(spec_ringbuf.process_ringbuf_reserve)


def test_invalid_broken_invariant_is_refuted_at_the_initial_state() -> None:
    # An invariant that the initial state already breaks is refuted by the first obligation.
    broken = core.System(**{**tailcall.SYSTEM.__dict__,
                            "invariant": lambda k, s: s["count"] > 0})
    result = core.prove_claim(broken, tailcall.CLAIMS[0])
    assert result.verdict is Verdict.REFUTED
    assert result.counterexample is not None
    assert result.counterexample.obligation == "initial"


def test_invalid_non_inductive_invariant_is_refuted() -> None:
    # count <= limit alone is true of every reachable state but jumps <= limit needs more.
    weak = core.System(**{**tailcall.SYSTEM.__dict__,
                          "invariant": lambda k, s: s["count"] <= k["limit"]})
    assert core.prove_claim(weak, tailcall.CLAIMS[0]).verdict is Verdict.REFUTED


def test_invalid_replay_of_an_initial_counterexample() -> None:
    cex = core.Counterexample("initial", {}, {})
    with pytest.raises(ValueError, match="no step"):
        core.replay_twin(timers.SYSTEM, timers.TWINS[0], cex)


def test_invalid_contradictory_limits_are_unknown_not_proved() -> None:
    empty = core.System(**{**tailcall.SYSTEM.__dict__,
                           "limits": lambda k: k["limit"] != k["limit"]})
    result = core.prove_claim(empty, tailcall.CLAIMS[0])
    assert result.verdict is Verdict.UNKNOWN and "no initial state" in result.reason


def test_invalid_dead_transition_is_unknown_not_proved() -> None:
    t = tailcall.SYSTEM.transitions[0]
    dead = core.Transition(t.name, t.summary, t.follows, t.params,
                           lambda k, pre, p, post: pre["count"] < 0)
    system = core.System(**{**tailcall.SYSTEM.__dict__,
                            "transitions": (dead, *tailcall.SYSTEM.transitions[1:])})
    result = core.prove_claim(system, tailcall.CLAIMS[0])
    assert result.verdict is Verdict.UNKNOWN
    assert result.reason == "vacuous: transition tail_call is never enabled"


# -- the claims and the spec's invariant catalogue ------------------------------------------


def test_every_claim_a_catalogue_invariant_names_exists_once() -> None:
    claims = [c.name for _, c in catalogue.get_claims()]
    named = [claim for inv in SPEC_CATALOGUE.values() for claim in inv.proofs]
    assert len(named) == len(set(named))
    assert set(named) <= set(claims)
    assert set(claims) - set(named) == {"scheduler.determinism", "watchers.edge"}


def test_an_invariant_name_selects_its_claims() -> None:
    assert [c.name for _, c in catalogue.select_claims(["tail_call_limit"])] == ["tailcall.limit"]
    ring = [c.name for _, c in catalogue.select_claims(["ringbuf_fifo"])]
    assert ring == [c.name for _, c in catalogue.select_claims(["ringbuf"])]
    assert catalogue.get_claim_invariant("budget.fifo") == "no_double_execution"
    assert catalogue.get_claim_invariant("scheduler.determinism") is None


def test_an_invariant_without_claims_selects_nothing_and_is_refused() -> None:
    with pytest.raises(InputError, match="unknown invariant 'progress'"):
        catalogue.select_claims(["progress"])
