"""
Exit codes
==========

The one table of ``spec-check``'s exit codes (the engines define none), and how verdicts
map onto it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

#: Every requested property PROVED, every invariant HOLDS, the program did not fault.
EXIT_OK: Final = 0
#: A property REFUTED, an invariant VIOLATED, a program faulted, a trace reproduced.
EXIT_FAILED: Final = 1
#: Bad input or usage (one line on stderr).
EXIT_USAGE: Final = 2
#: Inconclusive: UNKNOWN, BOUND-REACHED, UNDECIDED.
EXIT_INCONCLUSIVE: Final = 3
#: A bug in arspec (one line on stderr; ``--debug`` adds the traceback).
EXIT_INTERNAL: Final = 4
#: ``replay`` only: the trace did not reproduce.
EXIT_NOT_REPRODUCED: Final = 5

_BY_VERDICT: Final = {"PROVED": EXIT_OK, "HOLDS": EXIT_OK, "REFUTED": EXIT_FAILED,
                      "VIOLATED": EXIT_FAILED, "UNKNOWN": EXIT_INCONCLUSIVE,
                      "BOUND-REACHED": EXIT_INCONCLUSIVE, "UNDECIDED": EXIT_INCONCLUSIVE,
                      "INCONCLUSIVE": EXIT_INCONCLUSIVE}

#: The name of a combined verdict (``verify`` with its explorer step).
VERDICT_NAMES: Final = {EXIT_OK: "PROVED/HOLDS", EXIT_FAILED: "REFUTED/VIOLATED",
                        EXIT_INCONCLUSIVE: "INCONCLUSIVE"}


def exit_code_of(verdict: str) -> int:
    """Return the exit code of a verdict name (``PROVED``, ``VIOLATED``, ``UNKNOWN``...)."""
    return _BY_VERDICT[verdict]


def combine(codes: Iterable[int]) -> int:
    """Return the combined exit code: failed beats inconclusive beats ok."""
    found = set(codes)
    if EXIT_FAILED in found:
        return EXIT_FAILED
    if EXIT_INCONCLUSIVE in found:
        return EXIT_INCONCLUSIVE
    return EXIT_OK
