"""Conformance cases that are expected to fail, each with the reason.

Keys are paths relative to ``tests/conformance``. The list is empty: every vector passes.
An entry here turns the case into a strict ``xfail``, so a fix that makes it pass is noticed.
"""

from __future__ import annotations

KNOWN_EXCEPTIONS: dict[str, str] = {}
