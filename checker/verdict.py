"""
Verdicts and reports
====================

What the verifier answers: a :class:`Verdict` per :class:`Property`, backed by a
:class:`Report` that holds **all** findings (never only the first), the worst-case compute
figure and the unreachable-code notes. Consumers (the CLI, the tests) read this data; they
never parse printed text. :meth:`Finding.render` gives one finding's line in the PREVAIL
style ``PROGRAM:pc: Short capitalised phrase (assertion)``; the one text report of a
bundle is :mod:`arspec.cli.render.text`.

A finding is ``REFUTED`` only when it carries a :class:`Counterexample` whose replay on the
reference VM showed the predicted fault, loop or overrun; every other finding is
``UNKNOWN``. A property is ``PROVED`` only when it has no finding at all.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum
from typing import Final


class Verdict(Enum):
    """The answer for one property, ordered from best to worst knowledge of a defect."""

    PROVED = "PROVED"
    UNKNOWN = "UNKNOWN"
    REFUTED = "REFUTED"


class Property(Enum):
    """The questions the verifier answers, in report order."""

    TERMINATION = "termination"
    MEMORY = "memory"
    DIVISION = "division"
    CONTROL = "control"
    COMPUTE = "compute"
    DETERMINISM = "determinism"


PROPERTY_ORDER: tuple[Property, ...] = tuple(Property)


@dataclass(frozen=True)
class Counterexample:
    """A concrete run that shows a violation.

    ``registers`` are r0..r10 at entry, ``input`` the input region, ``helper_returns`` the
    value each helper call returned in execution order. ``outcome`` describes what the
    replay did (``"memory fault at pc 3: ..."``); ``replayed`` tells whether it matched.
    """

    registers: tuple[int, ...]
    input: bytes
    helper_returns: tuple[tuple[int, int], ...]
    outcome: str
    replayed: bool
    compute_units: int = 0
    #: Contents of the objects the run starts with: ``(what, bytes)`` (map values, keys).
    objects: tuple[tuple[str, bytes], ...] = ()


@dataclass(frozen=True)
class Finding:
    """One violated (or not provable) assertion at ``pc``.

    ``verdict`` is ``REFUTED`` (with a replayed counterexample) or ``UNKNOWN``.
    """

    program: str
    pc: int
    property: Property
    message: str
    assertion: str
    verdict: Verdict = Verdict.UNKNOWN
    counterexample: Counterexample | None = None
    note: str = ""

    def sort_key(self) -> tuple[int, int, str, str]:
        """Return the stable report order: pc, property, message, assertion."""
        return (self.pc, PROPERTY_ORDER.index(self.property), self.message, self.assertion)

    def render(self) -> str:
        """Return ``PROGRAM:pc: message (assertion)``."""
        return f"{self.program}:{self.pc}: {self.message} ({self.assertion})"


@dataclass
class Report:
    """All findings of one program, per-property verdicts and the compute figure."""

    program: str
    profile: str
    findings: list[Finding] = field(default_factory=list)
    unreachable: list[int] = field(default_factory=list)
    worst_case_cu: int | None = None
    budget: int = 0
    notes: list[str] = field(default_factory=list)
    checked: set[Property] = field(default_factory=set)

    def add(self, finding: Finding) -> None:
        """Add ``finding`` unless an equal one is already there."""
        if finding not in self.findings:
            self.findings.append(finding)

    def sorted_findings(self) -> list[Finding]:
        """Return the findings in stable order."""
        return sorted(self.findings, key=lambda f: f.sort_key())

    def verdict(self, prop: Property) -> Verdict:
        """Return ``REFUTED`` if a finding replayed, ``UNKNOWN`` if any other, else PROVED."""
        mine = [f for f in self.findings if f.property is prop]
        if any(f.verdict is Verdict.REFUTED for f in mine):
            return Verdict.REFUTED
        if mine or prop not in self.checked:
            return Verdict.UNKNOWN
        return Verdict.PROVED

    @property
    def verdicts(self) -> dict[Property, Verdict]:
        """Return the verdict of every property, in report order."""
        return {prop: self.verdict(prop) for prop in PROPERTY_ORDER}

    @property
    def verified(self) -> bool:
        """Return whether every property is PROVED."""
        return all(v is Verdict.PROVED for v in self.verdicts.values())


#: Helper results a text report lists per counterexample (the JSON keeps up to
#: :data:`RETURNS_KEPT`); a run that loops calls helpers many thousand times.
RETURNS_SHOWN: Final = 16
RETURNS_KEPT: Final = 1024


def show_returns(returns: tuple[tuple[int, int], ...]) -> str:
    """Return ``[(pc, value), ...]`` for the first results, saying how many are left out."""
    text = str(list(returns[:RETURNS_SHOWN]))
    left = len(returns) - RETURNS_SHOWN
    return text if left <= 0 else f"{text} and {left} more"
