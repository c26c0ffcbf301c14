"""
Proof engine
============

A :class:`System` is one spec mechanism stated in z3 terms: its size parameters
(``consts``, constrained by ``limits`` to the spec's range, never to sample values), its
state, the initial states, an inductive invariant, and its transitions, each a relation
between a pre-state, the transition's parameters and a post-state that follows one
``spec/`` function. A :class:`Claim` is one theorem about it: a state predicate (true in
every reachable state) and/or a step predicate (true of every transition).

:func:`prove_claim` proves a claim by induction: every initial state satisfies the
invariant and the claim, and every transition from a state satisfying the invariant ends in
one that satisfies it and the claim. Each obligation is one solver query; one satisfiable
obligation makes the claim REFUTED with the counterexample (the pre-state, parameters and
post-state), one unknown answer makes it UNKNOWN. Nothing here prints.

A :class:`Twin` is a deliberately broken copy of one transition and of the spec function it
follows (a source :class:`Mutation`). Under the twin the claim must be REFUTED, and
:func:`replay_twin` runs the mutated spec function on the counterexample's pre-state and
checks that it reaches a state violating the claim.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field, replace
from functools import wraps
from typing import Any, Literal, ParamSpec, TypeVar

from arspec.checker.solver import SolverConfig, SolverError
from arspec.checker.verdict import Verdict

from . import logic as L
from .logic import Term, Value
from .mutation import Mutation, mutated_spec

Sort = Literal["int", "bool", "int_array", "bool_array"]
Vars = Mapping[str, Term]
Values = dict[str, Value]
#: The lighter query of an obligation gets this fraction of the rlimit (1 / LIGHT_SHARE).
LIGHT_SHARE = 10
#: Entries of an array shown in a counterexample at most.
MAX_SHOWN_ENTRIES = 64


@dataclass(frozen=True)
class Field:
    """One named component of a state, a parameter list or the size parameters."""

    name: str
    sort: Sort


Signature = tuple[Field, ...]


def ints(*names: str) -> Signature:
    """Return integer fields called ``names``."""
    return tuple(Field(n, "int") for n in names)


def bools(*names: str) -> Signature:
    """Return boolean fields called ``names``."""
    return tuple(Field(n, "bool") for n in names)


@dataclass(frozen=True)
class Transition:
    """One step of a system: ``relation(consts, pre, params, post)`` and the spec it follows."""

    name: str
    summary: str
    follows: str
    params: Signature
    relation: Callable[[Vars, Vars, Vars, Vars], Term]


@dataclass(frozen=True)
class Claim:
    """One theorem: ``state(consts, s)`` in every reachable state and/or ``step`` of every step.

    ``step(consts, transition_name, pre, params, post)`` is asked of every transition.
    """

    name: str
    statement: str
    state: Callable[[Vars, Vars], Term] | None = None
    step: Callable[[Vars, str, Vars, Vars, Vars], Term] | None = None


@dataclass(frozen=True)
class Twin:
    """A broken transition under which ``claim`` must fail, and the same break in the spec."""

    name: str
    description: str
    claim: str
    transition: str
    relation: Callable[[Vars, Vars, Vars, Vars], Term]
    mutation: Mutation


@dataclass(frozen=True)
class System:
    """A spec mechanism in z3 terms; see the module text.

    ``span(state)`` gives the index range ``[lo, hi)`` of a state's arrays that matters (what
    counterexamples show); ``small(consts, state)`` is a hint tried first for small
    counterexamples; ``execute(transition, consts, pre, params)`` runs the executable spec's
    function(s) on concrete values and returns the post-state's values; ``view(values)`` is
    the part of a state the spec determines (what the spec-versus-encoding tests compare).
    """

    name: str
    title: str
    summary: str
    consts: Signature
    limits: Callable[[Vars], Term]
    state: Signature
    initial: Callable[[Vars, Vars], Term]
    invariant: Callable[[Vars, Vars], Term]
    transitions: tuple[Transition, ...]
    claims: tuple[Claim, ...]
    twins: tuple[Twin, ...]
    execute: Callable[[str, Values, Values, Values], Values]
    span: Callable[[Vars], tuple[Term, Term]] | None = None
    small: Callable[[Vars, Vars], Term] | None = None
    view: Callable[[Values], Values] | None = None

    def transition(self, name: str) -> Transition:
        """Return the transition called ``name``."""
        for t in self.transitions:
            if t.name == name:
                return t
        raise KeyError(name)

    def claim(self, name: str) -> Claim:
        """Return the claim called ``name``."""
        for c in self.claims:
            if c.name == name:
                return c
        raise KeyError(name)


@dataclass(frozen=True)
class Counterexample:
    """A state (and step) that breaks a claim: ``obligation`` is ``initial`` or a transition."""

    obligation: str
    consts: Values
    pre: Values
    params: Values = field(default_factory=dict)
    post: Values = field(default_factory=dict)

    def as_json(self) -> dict[str, Any]:
        """Return the counterexample as JSON-ready data (array keys become strings)."""
        return {"obligation": self.obligation, "consts": _json(self.consts),
                "pre": _json(self.pre), "params": _json(self.params), "post": _json(self.post)}


@dataclass(frozen=True)
class ProofResult:
    """The outcome of proving one claim (or refuting it under a twin)."""

    claim: str
    verdict: Verdict
    seconds: float
    obligations: int
    counterexample: Counterexample | None = None
    reason: str = ""


def get_int(values: Values, name: str) -> int:
    """Return the integer (or boolean as 0/1) field ``name`` of concrete values."""
    value = values[name]
    assert not isinstance(value, dict), name
    return int(value)


def get_ints(values: Values, name: str) -> dict[int, int]:
    """Return the integer array field ``name`` of concrete values."""
    value = values[name]
    assert isinstance(value, dict), name
    return {i: int(v) for i, v in value.items()}


def get_flags(values: Values, name: str) -> dict[int, bool]:
    """Return the boolean array field ``name`` of concrete values."""
    value = values[name]
    assert isinstance(value, dict), name
    return {i: bool(v) for i, v in value.items()}


def _json(values: Values) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in values.items():
        out[name] = {str(k): v for k, v in value.items()} if isinstance(value, dict) else value
    return out


# --------------------------------------------------------------------------- terms


def make_vars(signature: Signature, prefix: str) -> dict[str, Term]:
    """Return a fresh variable per field, named ``prefix.field``."""
    makers: dict[Sort, Callable[[str], Term]] = {
        "int": L.int_var, "bool": L.bool_var, "int_array": L.int_array,
        "bool_array": L.bool_array}
    return {f.name: makers[f.sort](f"{prefix}.{f.name}") for f in signature}


def literal_vars(signature: Signature, values: Values) -> dict[str, Term]:
    """Return literal terms for concrete ``values`` (arrays default to 0 / false)."""
    out: dict[str, Term] = {}
    for f in signature:
        value = values[f.name]
        if f.sort == "int":
            assert isinstance(value, int) and not isinstance(value, bool)
            out[f.name] = L.num(value)
        elif f.sort == "bool":
            assert isinstance(value, bool)
            out[f.name] = L.truth(value)
        elif f.sort == "int_array":
            assert isinstance(value, dict)
            out[f.name] = L.int_array_of({k: int(v) for k, v in value.items()})
        else:
            assert isinstance(value, dict)
            out[f.name] = L.bool_array_of({k: bool(v) for k, v in value.items()})
    return out


def read_values(model: L.Model, signature: Signature, terms: Vars,
                span: tuple[Term, Term] | None) -> Values:
    """Return the model's values of ``terms``; arrays are read over ``span`` only."""
    lo = hi = 0
    if span is not None:
        lo, hi = int(model.value(span[0])), int(model.value(span[1]))
        hi = min(hi, lo + MAX_SHOWN_ENTRIES)
    out: Values = {}
    for f in signature:
        term = terms[f.name]
        if f.sort in ("int", "bool"):
            out[f.name] = model.value(term)
        elif f.sort == "int_array":
            out[f.name] = {i: int(model.value(L.select(term, i))) for i in range(lo, hi)}
        else:
            out[f.name] = {i: bool(model.value(L.select(term, i))) for i in range(lo, hi)}
    return out


def _differs(signature: Signature, terms: Vars, values: Values) -> Term:
    parts = []
    for f in signature:
        value = values[f.name]
        if isinstance(value, dict):
            parts += [L.select(terms[f.name], k) != v for k, v in value.items()]
        else:
            parts.append(terms[f.name] != value)
    return L.or_(*parts)


# --------------------------------------------------------------------------- proving

_P = ParamSpec("_P")
_R = TypeVar("_R")


def in_fresh_context(fn: Callable[_P, _R]) -> Callable[_P, _R]:
    """Run ``fn`` with its own z3 context (see :func:`~arspec.proofs.logic.fresh_context`)."""

    @wraps(fn)
    def wrapper(*args: _P.args, **kwargs: _P.kwargs) -> _R:
        with L.fresh_context():
            return fn(*args, **kwargs)

    return wrapper


def _obligations(system: System, claim: Claim,
                 override: Mapping[str, Callable[[Vars, Vars, Vars, Vars], Term]]
                 ) -> Iterator[tuple[str, Vars, Vars, Vars, Vars, list[Term], list[Term]]]:
    """Yield each proof obligation: a name, a query that must be unsatisfiable and a lighter one.

    Per transition, each conjunct of the invariant and then of the claim is asked on its
    own (small queries keep quantifier instantiation cheap). The lighter query drops the
    quantified conjuncts of the pre-state's invariant (fewer hypotheses, so when it is
    unsatisfiable so is the full query); for a state claim it asks the post-state's
    invariant instead, which the earlier queries of the same step established (a claim is
    PROVED only when all of them are unsatisfiable).
    """
    k = make_vars(system.consts, "k")
    s = make_vars(system.state, "s")
    base = [system.limits(k), system.initial(k, s)]
    query = [*base, L.not_(system.invariant(k, s))]
    yield "initial", k, s, {}, {}, query, query
    if claim.state is not None:
        query = [*base, L.not_(claim.state(k, s))]
        yield "initial", k, s, {}, {}, query, query
    for t in system.transitions:
        pre = make_vars(system.state, "pre")
        post = make_vars(system.state, "post")
        params = make_vars(t.params, t.name)
        relation = override.get(t.name, t.relation)
        before = L.conjuncts(system.invariant(k, pre))
        step = [system.limits(k), *before, relation(k, pre, params, post)]
        light = [system.limits(k), *(p for p in before if not L.is_quantified(p)),
                 relation(k, pre, params, post)]
        after = system.invariant(k, post)
        for part in L.conjuncts(after):
            yield t.name, k, pre, params, post, [*step, L.not_(part)], [*light, L.not_(part)]
        if claim.state is not None:
            # A state claim is first asked of the post-state's invariant alone (its
            # quantifier-free part): sound, as every conjunct of it was asked just before.
            settled = [system.limits(k), *(p for p in L.conjuncts(after)
                                            if not L.is_quantified(p))]
            for part in L.conjuncts(claim.state(k, post)):
                yield t.name, k, pre, params, post, [*step, L.not_(part)], [
                    *settled, L.not_(part)]
        if claim.step is not None:
            for part in L.conjuncts(claim.step(k, t.name, pre, params, post)):
                yield t.name, k, pre, params, post, [*step, L.not_(part)], [
                    *light, L.not_(part)]


def _counterexample(system: System, model: L.Model, name: str, k: Vars, pre: Vars,
                    params: Vars, post: Vars) -> Counterexample:
    span = system.span
    params_sig = () if name == "initial" else system.transition(name).params
    return Counterexample(
        obligation=name,
        consts=read_values(model, system.consts, k, None),
        pre=read_values(model, system.state, pre, span(pre) if span else None),
        params=read_values(model, params_sig, params, None),
        post={} if name == "initial" else read_values(model, system.state, post,
                                                       span(post) if span else None))


def _vacuity(system: System, override: Mapping[str, Callable[[Vars, Vars, Vars, Vars], Term]],
             config: SolverConfig) -> str:
    """Return why a proof over ``system`` would hold vacuously ("" when it would not)."""
    k = make_vars(system.consts, "k")
    s = make_vars(system.state, "s")
    checks = [("no initial state within the limits", [system.limits(k), system.initial(k, s)])]
    for t in system.transitions:
        relation = override.get(t.name, t.relation)
        params = make_vars(t.params, t.name)
        post = make_vars(system.state, "post")
        checks.append((f"transition {t.name} is never enabled",
                       [system.limits(k), system.invariant(k, s), relation(k, s, params, post)]))
    for reason, query in checks:
        answer, _, why = L.solve(query, config)
        if answer is not L.Answer.SAT:
            return f"vacuous: {reason}" if answer is L.Answer.UNSAT else f"{reason}? ({why})"
    return ""


@in_fresh_context
def prove_claim(system: System, claim: Claim, *, config: SolverConfig | None = None,
                override: Mapping[str, Callable[[Vars, Vars, Vars, Vars], Term]] | None = None,
                ) -> ProofResult:
    """Prove ``claim`` by induction over ``system``, its transitions replaced by ``override``.

    A proof that holds only because nothing can happen is not reported as PROVED: when no
    initial state exists or a transition can never be taken from an invariant state, the
    verdict is UNKNOWN and the reason says which.
    """
    config = config or SolverConfig()
    started = time.perf_counter()
    vacuous = _vacuity(system, override or {}, config)
    if vacuous:
        return ProofResult(claim.name, Verdict.UNKNOWN, time.perf_counter() - started, 0,
                           None, vacuous)
    count = 0
    unknown = ""
    light_config = replace(config, rlimit=max(1, config.rlimit // LIGHT_SHARE))
    for name, k, pre, params, post, query, light in _obligations(system, claim, override or {}):
        count += 1
        if light is not query:
            answer, _, _ = L.solve(light, light_config)
            if answer is L.Answer.UNSAT:
                continue
        answer, model, reason = L.solve(query, config)
        if answer is L.Answer.UNKNOWN:
            unknown = unknown or f"{name}: solver gave up ({reason})"
            continue
        if answer is L.Answer.SAT:
            assert model is not None
            if system.small is not None:
                smaller, small_model, _ = L.solve([*query, system.small(k, pre)], config)
                if smaller is L.Answer.SAT and small_model is not None:
                    model = small_model
            cex = _counterexample(system, model, name, k, pre, params, post)
            return ProofResult(claim.name, Verdict.REFUTED, time.perf_counter() - started,
                               count, cex)
    verdict = Verdict.UNKNOWN if unknown else Verdict.PROVED
    return ProofResult(claim.name, verdict, time.perf_counter() - started, count, None, unknown)


def prove_twin(system: System, twin: Twin, *,
               config: SolverConfig | None = None) -> ProofResult:
    """Run the proof of the twin's claim with its transition broken (it must be REFUTED)."""
    return prove_claim(system, system.claim(twin.claim), config=config,
                       override={twin.transition: twin.relation})


# --------------------------------------------------------------------------- concrete runs


@in_fresh_context
def holds(system: System, claim: Claim | None, cex: Counterexample, post: Values | None = None,
          *, config: SolverConfig | None = None) -> bool:
    """Return whether invariant and claim hold of ``cex`` (its post-state replaced by ``post``).

    For ``initial`` counterexamples the pre-state is judged; otherwise the step.
    """
    config = config or SolverConfig()
    k = literal_vars(system.consts, cex.consts)
    if cex.obligation == "initial":
        s = literal_vars(system.state, cex.pre)
        goal = [system.invariant(k, s)]
        if claim is not None and claim.state is not None:
            goal.append(claim.state(k, s))
    else:
        t = system.transition(cex.obligation)
        pre = literal_vars(system.state, cex.pre)
        after = literal_vars(system.state, cex.post if post is None else post)
        params = literal_vars(t.params, cex.params)
        goal = [system.invariant(k, after)]
        if claim is not None and claim.state is not None:
            goal.append(claim.state(k, after))
        if claim is not None and claim.step is not None:
            goal.append(claim.step(k, t.name, pre, params, after))
    answer, _, reason = L.solve([L.and_(*goal)], config)
    if answer is L.Answer.UNKNOWN:
        raise SolverError(f"cannot evaluate {system.name} on a concrete state: {reason}")
    return answer is L.Answer.SAT


@in_fresh_context
def is_invariant_state(system: System, consts: Values, state: Values, *,
                       config: SolverConfig | None = None) -> bool:
    """Return whether limits and invariant hold of a concrete state."""
    k = literal_vars(system.consts, consts)
    s = literal_vars(system.state, state)
    answer, _, reason = L.solve([system.limits(k), system.invariant(k, s)],
                                config or SolverConfig())
    if answer is L.Answer.UNKNOWN:
        raise SolverError(f"cannot evaluate {system.name} on a concrete state: {reason}")
    return answer is L.Answer.SAT


@in_fresh_context
def run_transition(system: System, name: str, consts: Values, pre: Values, params: Values, *,
                   config: SolverConfig | None = None) -> Values | None:
    """Return the one post-state the encoded transition gives to concrete inputs.

    Returns ``None`` when the relation allows no post-state (the inputs are outside the
    transition's domain); raises :class:`SolverError` when it allows more than one (the
    encoding is not a function) or the solver cannot tell.
    """
    config = config or SolverConfig()
    t = system.transition(name)
    k = literal_vars(system.consts, consts)
    before = literal_vars(system.state, pre)
    args = literal_vars(t.params, params)
    post = make_vars(system.state, "post")
    relation = t.relation(k, before, args, post)
    answer, model, reason = L.solve([relation], config)
    if answer is L.Answer.UNSAT:
        return None
    if answer is not L.Answer.SAT or model is None:
        raise SolverError(f"{system.name}.{name}: the solver gave up ({reason})")
    span = system.span(post) if system.span else None
    found = read_values(model, system.state, post, span)
    again, _, _ = L.solve([relation, _differs(system.state, post, found)], config)
    if again is not L.Answer.UNSAT:
        raise SolverError(f"{system.name}.{name}: the post-state is not unique ({again.value})")
    return found


# --------------------------------------------------------------------------- twins


@dataclass(frozen=True)
class Replay:
    """A twin's counterexample run on the executable spec, with and without the mutation.

    ``post_spec`` is ``None`` when the real spec refuses the step (one of its ``assert``
    preconditions fails: the mutation let the step happen).
    """

    twin: str
    post_mutated: Values
    post_spec: Values | None
    violated: bool
    spec_holds: bool


def replay_twin(system: System, twin: Twin, cex: Counterexample, *,
                config: SolverConfig | None = None) -> Replay:
    """Run the mutated spec function on the counterexample's pre-state.

    ``violated`` says whether the mutated spec reaches a state breaking the claim (or the
    invariant); ``spec_holds`` whether the real spec, from the same pre-state, refuses the
    step or keeps both.
    """
    claim = system.claim(twin.claim)
    if cex.obligation == "initial":
        raise ValueError(f"{twin.name}: an initial-state counterexample has no step to replay")
    with mutated_spec(twin.mutation):
        post_mutated = system.execute(cex.obligation, cex.consts, cex.pre, cex.params)
    post_spec: Values | None
    try:
        post_spec = system.execute(cex.obligation, cex.consts, cex.pre, cex.params)
    except AssertionError:
        post_spec = None
    return Replay(
        twin=twin.name, post_mutated=post_mutated, post_spec=post_spec,
        violated=not holds(system, claim, cex, post_mutated, config=config),
        spec_holds=post_spec is None or holds(system, claim, cex, post_spec, config=config))
