"""
Verifier-level vectors
======================

One vector per bundle: its YAML text (the programs and the context they need: maps, hooks,
budgets) and, expected, the verdict of every property for every program (``PROVED``,
``REFUTED`` or ``UNKNOWN``), from :func:`~arspec.checker.verify_bundle.verify_bundle` under a
deterministic solver resource limit. The examples and their broken twins give both kinds of
answer. Another verifier passes a vector when it gives the same verdicts; one that answers
``UNKNOWN`` where arspec proves or refutes is weaker, and the reader reports it so.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Final

import yaml

from arspec.checker.verify_bundle import verify_bundle
from arspec.cli.vectors.common import SpecCalls
from arspec.spec.errors import ArspecError, InputError

#: z3 resource units per query: verdicts depend on this, never on the clock.
RLIMIT: Final = 20_000_000
#: Wall-clock limit per bundle, far above what the examples need, so it never decides.
TIMEOUT: Final = 600.0


def verify_text(text: str, filename: str) -> tuple[str, dict[str, dict[str, str]]]:
    """Verify the bundle ``text``; return its profile and ``{program: {property: verdict}}``.

    The text is written to a temporary folder first, so a bundle that needs another file
    (an ELF object) fails to load there.
    """
    with tempfile.TemporaryDirectory(prefix="arspec-vectors-") as folder:
        path = Path(folder) / Path(filename).name
        path.write_text(text, encoding="utf-8")
        try:
            result = verify_bundle(str(path), timeout=TIMEOUT, rlimit=RLIMIT)
        except ArspecError as error:  # name the bundle, not the temporary copy
            line = str(error).splitlines()[0].removeprefix("error: ")
            raise InputError(line.replace(str(path), filename)) from None
    return result.profile, {p.name: {prop.value: verdict.value
                                     for prop, verdict in p.report.verdicts.items()}
                            for p in result.programs}


VerifierVector = tuple[str, dict[str, Any], dict[str, Any], list[str]]


def bundle_vector(path: Path, root: Path) -> VerifierVector:
    """Return ``(id, input, expected, exercises)`` for the bundle at ``path``."""
    return text_vector(path.read_text(encoding="utf-8"), path.relative_to(root).as_posix())


def corpus_cases(folder: Path) -> list[tuple[str, str]]:
    """Return ``(name, bundle text)`` of the verifier corpus's cases that load (sorted).

    The corpus (``tests/checker/bundles/*.yaml``) holds small bundles, each a ``test-case``
    with its ``bundle`` text; a case that expects a load ``error`` gives no vector.
    """
    out = []
    for file in sorted(folder.glob("*.yaml")):
        for case in yaml.safe_load(file.read_text(encoding="utf-8"))["cases"]:
            if "error" not in case:
                out.append((f"{file.stem}/{case['test-case']}.yaml", str(case["bundle"])))
    return out


def text_vector(text: str, name: str) -> VerifierVector:
    """Return ``(id, input, expected, exercises)`` for the bundle ``text`` named ``name``."""
    with SpecCalls() as calls:
        profile, verdicts = verify_text(text, name)
    inputs = {"bundle_name": name, "profile": profile, "bundle": text}
    expected = {"programs": [{"name": program, "verdicts": verdicts[program]}
                             for program in sorted(verdicts)]}
    return name.removesuffix(".yaml"), inputs, expected, calls.names
