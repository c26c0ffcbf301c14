"""
arspec answering its own vectors
================================

The three callables the independent reader (``examples/vectors/reader.py``) expects from an
implementation, provided by arspec: each takes a vector's plain ``input`` object, calls arspec
with plain values only (bytes, ints, the bundle's YAML text) and returns a plain result shaped
like the vector's ``expected`` object. The tests and ``benchmarks/write_vectors.py`` use them
to check that arspec passes every vector it wrote.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

from arspec.cli.vectors.instruction import run_program
from arspec.cli.vectors.runtime import run_slots
from arspec.cli.vectors.verifier import verify_text


def answer_instruction(inputs: dict[str, Any]) -> dict[str, Any]:
    """Run an instruction vector's program from its bytes and integers."""
    text = inputs["text"]
    return run_program(bytes.fromhex(inputs["program"]), profile=str(inputs["profile"]),
                       loader=str(inputs["loader"]),
                       input_region=bytes.fromhex(inputs["memory"]),
                       registers={str(k): int(v) for k, v in inputs["registers"].items()},
                       compute_limit=int(inputs["compute_limit"]),
                       helpers=str(inputs["helpers"]),
                       text=None if text is None else bytes.fromhex(text))


@lru_cache(maxsize=4)
def _slots(text: str, name: str) -> tuple[dict[str, Any], ...]:
    return tuple(run_slots(text, name))


def answer_runtime(inputs: dict[str, Any]) -> dict[str, Any]:
    """Run a runtime vector's bundle (its YAML text) up to its slot; return that slot."""
    runs = _slots(str(inputs["bundle"]), str(inputs["bundle_name"]))
    found = [r for r in runs if r["slot"] == inputs["slot"]]
    if not found:
        return {"state_before": None, "events": None, "state_after": None}
    slot = found[0]
    # Copies through JSON-like rebuilding: a caller may edit what it gets.
    return {key: _copy(slot[key]) for key in ("state_before", "events", "state_after")}


def _copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def answer_verifier(inputs: dict[str, Any]) -> dict[str, Any]:
    """Verify a verifier vector's bundle (its YAML text); return the verdicts."""
    _, verdicts = verify_text(str(inputs["bundle"]), str(inputs["bundle_name"]))
    return {"programs": [{"name": name, "verdicts": verdicts[name]}
                         for name in sorted(verdicts)]}


#: The callables by vector kind, as ``reader.check_all`` takes them.
ANSWERS = {"instruction": answer_instruction, "runtime": answer_runtime,
           "verifier": answer_verifier}
