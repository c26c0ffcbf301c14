"""A reader of arspec's test vectors that needs nothing but the Python standard library.

It is the example of how another implementation consumes the vectors written by
``spec-check vectors OUT_DIR``: it loads each kind into plain dicts and compares what an
implementation produced with what the vectors expect. It imports nothing from arspec.

An implementation provides one callable per kind; each receives the vector's ``input``
object (plain JSON data) and returns a dict shaped like the vector's ``expected`` object:

- instruction: ``{"status", "registers", "memory", "compute_units", "fault", "logs"}``
  (``"instructions"`` is compared only when the implementation returns it);
- runtime: ``{"events", "state_after"}`` (``"state_before"`` is compared when returned;
  descriptive texts and the wording of faults are not compared);
- verifier: ``{"programs": [{"name", "verdicts": {property: verdict}}]}``.

Each ``check_*`` function returns the list of differences, empty when the vector passes.
Run ``python reader.py OUT_DIR`` to check a folder's manifest and count its vectors.
"""

from __future__ import annotations

import hashlib
import json
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

FORMAT = "arspec-vectors"
VERSION = 1
KINDS = ("instruction", "runtime", "verifier")
#: Differences reported per vector before the rest are summarised.
MAX_DIFFERENCES = 20

Run = Callable[[dict[str, Any]], dict[str, Any]]


# ----------------------------------------------------------------------------- loading


def read_manifest(folder: Path) -> list[dict[str, Any]]:
    """Return the manifest's file entries after checking its format, version and digests."""
    manifest = json.loads((folder / "manifest.json").read_text(encoding="utf-8"))
    if manifest.get("format") != FORMAT or manifest.get("version") != VERSION:
        raise ValueError(f"{folder}/manifest.json: not {FORMAT} version {VERSION}")
    for entry in manifest["files"]:
        data = (folder / entry["path"]).read_bytes()
        if hashlib.sha256(data).hexdigest() != entry["sha256"]:
            raise ValueError(f"{folder}/{entry['path']}: SHA-256 differs from the manifest")
    files: list[dict[str, Any]] = manifest["files"]
    return files


def iter_file(path: Path) -> Iterator[dict[str, Any]]:
    """Yield the vectors of one JSON-lines file, checking each one's envelope."""
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines, start=1):
            vector = json.loads(line)
            problems = check_envelope(vector)
            if problems:
                raise ValueError(f"{path}:{number}: {problems[0]}")
            yield vector


def load_vectors(folder: Path) -> dict[str, list[dict[str, Any]]]:
    """Return every vector of ``folder`` by kind, in manifest order."""
    out: dict[str, list[dict[str, Any]]] = {kind: [] for kind in KINDS}
    for entry in read_manifest(folder):
        if entry["kind"] in KINDS:
            out[entry["kind"]].extend(iter_file(folder / entry["path"]))
    return out


def check_envelope(vector: dict[str, Any]) -> list[str]:
    """Return what is wrong with the fields every vector has."""
    problems = []
    if vector.get("format") != FORMAT:
        problems.append(f"format is {vector.get('format')!r}, not {FORMAT!r}")
    if vector.get("version") != VERSION:
        problems.append(f"version is {vector.get('version')!r}, not {VERSION}")
    if vector.get("kind") not in KINDS:
        problems.append(f"unknown kind {vector.get('kind')!r}")
    for name in ("id", "source", "exercises", "input", "expected"):
        if name not in vector:
            problems.append(f"no {name!r} field")
    return problems


# ----------------------------------------------------------------------------- comparing


def diff(expected: Any, actual: Any, path: str = "") -> list[str]:
    """Return every place where ``actual`` differs from ``expected`` (JSON values)."""
    if isinstance(expected, dict) and isinstance(actual, dict):
        out = []
        for key in sorted(set(expected) | set(actual)):
            where = f"{path}.{key}" if path else key
            if key not in actual:
                out.append(f"{where}: missing")
            elif key not in expected:
                out.append(f"{where}: unexpected")
            else:
                out += diff(expected[key], actual[key], where)
        return out
    if isinstance(expected, list) and isinstance(actual, list):
        out = []
        if len(expected) != len(actual):
            out.append(f"{path}: {len(actual)} items, expected {len(expected)}")
        for i, (one, two) in enumerate(zip(expected, actual, strict=False)):
            out += diff(one, two, f"{path}[{i}]")
        return out
    if expected != actual or type(expected) is not type(actual):
        return [f"{path}: expected {expected!r}, got {actual!r}"]
    return []


def _limited(problems: list[str]) -> list[str]:
    if len(problems) <= MAX_DIFFERENCES:
        return problems
    return [*problems[:MAX_DIFFERENCES], f"... and {len(problems) - MAX_DIFFERENCES} more"]


def _bytes_at(regions: list[dict[str, Any]]) -> dict[int, int]:
    """Return ``{address: byte}`` of a list of ``{"address", "hex"}`` ranges."""
    out = {}
    for region in regions:
        for i, byte in enumerate(bytes.fromhex(region["hex"])):
            out[region["address"] + i] = byte
    return out


def compare_instruction(expected: dict[str, Any], actual: dict[str, Any]) -> list[str]:
    """Return the differences between an instruction vector's expectation and a result."""
    problems = []
    for name in ("status", "compute_units", "logs"):
        if actual.get(name) != expected[name]:
            problems.append(f"{name}: expected {expected[name]!r}, got {actual.get(name)!r}")
    if "instructions" in actual and actual["instructions"] != expected["instructions"]:
        problems.append(f"instructions: expected {expected['instructions']}, got "
                        f"{actual['instructions']}")
    want_regs, got_regs = expected["registers"], actual.get("registers")
    if want_regs is None or got_regs is None:
        if want_regs != got_regs:
            problems.append(f"registers: expected {want_regs!r}, got {got_regs!r}")
    else:
        for i, (want, got) in enumerate(zip(want_regs, got_regs, strict=False)):
            if want != got:
                problems.append(f"r{i}: expected {want:#x}, got {got:#x}")
        if len(got_regs) != 11:
            problems.append(f"registers: {len(got_regs)} values, expected 11 (r0..r10)")
    want_mem, got_mem = _bytes_at(expected["memory"]), _bytes_at(actual.get("memory", []))
    for address in sorted(set(want_mem) | set(got_mem)):
        if want_mem.get(address) != got_mem.get(address):
            problems.append(f"memory {address:#x}: expected {want_mem.get(address)}, got "
                            f"{got_mem.get(address)}")
    want_fault, got_fault = expected["fault"], actual.get("fault")
    if (want_fault is None) != (got_fault is None):
        problems.append(f"fault: expected {want_fault!r}, got {got_fault!r}")
    elif want_fault is not None and got_fault is not None:
        for name in ("code", "pc", "address"):
            if want_fault[name] != got_fault.get(name):
                problems.append(f"fault {name}: expected {want_fault[name]!r}, got "
                                f"{got_fault.get(name)!r}")
    return _limited(problems)


def check_instruction(vector: dict[str, Any], run: Run) -> list[str]:
    """Run an instruction vector's input with ``run`` and return the differences."""
    return compare_instruction(vector["expected"], run(vector["input"]))


#: Runtime fields that are arspec's descriptions for people: not compared.
INFORMATIVE = ("detail", "reason")


def comparable(value: Any) -> Any:
    """Return ``value`` without its informative texts; a fault message becomes ``True``.

    An invocation's ``fault`` is arspec's one-line reason; only whether there was one is
    part of the runtime's behaviour.
    """
    if isinstance(value, dict):
        return {key: (True if key == "fault" and isinstance(item, str) else comparable(item))
                for key, item in value.items() if key not in INFORMATIVE}
    if isinstance(value, list):
        return [comparable(item) for item in value]
    return value


def check_runtime(vector: dict[str, Any], run: Run) -> list[str]:
    """Run a runtime vector's slot with ``run`` and return the differences.

    Events and states are compared field by field except the texts in :data:`INFORMATIVE`
    and the wording of a fault (see :func:`comparable`).
    """
    actual = run(vector["input"])
    problems = []
    if "state_before" in actual:
        problems += diff(comparable(vector["input"]["state_before"]),
                         comparable(actual["state_before"]), "state_before")
    for name in ("events", "state_after"):
        problems += diff(comparable(vector["expected"][name]), comparable(actual.get(name)),
                         name)
    return _limited(problems)


def check_verifier(vector: dict[str, Any], run: Run) -> list[str]:
    """Run a verifier vector with ``run`` and return the verdicts that differ.

    ``UNKNOWN`` where the vector says ``PROVED`` or ``REFUTED`` is reported as weaker; any
    other difference as a contradiction.
    """
    actual = {p["name"]: p["verdicts"] for p in run(vector["input"]).get("programs", [])}
    problems = []
    for program in vector["expected"]["programs"]:
        name, verdicts = program["name"], program["verdicts"]
        if name not in actual:
            problems.append(f"{name}: no verdicts")
            continue
        for prop, want in sorted(verdicts.items()):
            got = actual[name].get(prop)
            if got == want:
                continue
            how = "weaker" if got == "UNKNOWN" else "contradiction"
            problems.append(f"{name} {prop}: expected {want}, got {got} ({how})")
    for name in sorted(set(actual) - {p["name"] for p in vector["expected"]["programs"]}):
        problems.append(f"{name}: unexpected program")
    return problems


CHECKS: dict[str, Callable[[dict[str, Any], Run], list[str]]] = {
    "instruction": check_instruction,
    "runtime": check_runtime,
    "verifier": check_verifier,
}


def check_all(vectors: dict[str, list[dict[str, Any]]], runs: dict[str, Run]
              ) -> dict[str, list[str]]:
    """Check every vector of the kinds in ``runs``; return ``{id: differences}`` of failures."""
    failed = {}
    for kind, run in runs.items():
        for vector in vectors[kind]:
            problems = CHECKS[kind](vector, run)
            if problems:
                failed[f"{kind}/{vector['id']}"] = problems
    return failed


def main(argv: list[str]) -> int:
    """Check a vector folder's manifest and envelopes; print the vectors per kind/profile."""
    if len(argv) != 1:
        print("usage: reader.py VECTOR_DIR", file=sys.stderr)
        return 2
    try:
        vectors = load_vectors(Path(argv[0]))
    except (OSError, ValueError, KeyError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    counts: dict[tuple[str, str], int] = {}
    for kind, items in vectors.items():
        for vector in items:
            key = (kind, vector["input"]["profile"])
            counts[key] = counts.get(key, 0) + 1
    for (kind, profile), count in sorted(counts.items()):
        print(f"{kind:<12} {profile:<7} {count:>6}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
