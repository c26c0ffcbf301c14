"""
Writing vectors
===============

:func:`write_vectors` writes the chosen kinds into a folder, one JSON-lines file per group
(``instruction/conformance.jsonl``, ``runtime/explore/tail_ok.jsonl`` ...), each kind's JSON
Schema under ``schemas/`` and a ``manifest.json`` listing every file with its kind, vector
count and SHA-256. Files are written in a fixed order with canonical JSON, so two runs give
byte-identical folders whatever the hash seed.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

from arspec.cli.vectors import instruction_sources as sources
from arspec.cli.vectors.common import FORMAT, KINDS, VERSION, dump_line, make_vector
from arspec.cli.vectors.instruction import expect
from arspec.cli.vectors.runtime import bundle_vectors
from arspec.cli.vectors.schemas import SCHEMAS
from arspec.cli.vectors.verifier import bundle_vector, corpus_cases, text_vector
from arspec.spec.errors import ArspecError, InputError

#: The project's folders the vectors are drawn from (relative to the project root).
CONFORMANCE_DIR: Final = Path("tests/conformance")
EXAMPLES_DIR: Final = Path("examples")
CORPUS_DIR: Final = Path("tests/checker/bundles")
#: Random programs drawn from each differential generator.
RANDOM_PROGRAMS: Final = 200

Progress = Callable[[str], None]
Vector = dict[str, Any]


@dataclass
class VectorSummary:
    """What :func:`write_vectors` wrote: vectors per (kind, profile), files, skipped inputs."""

    out_dir: Path
    counts: dict[tuple[str, str], int] = field(default_factory=dict)
    files: list[str] = field(default_factory=list)
    #: ``(source, reason)`` of every input that gave no vector.
    skipped: list[tuple[str, str]] = field(default_factory=list)

    def add(self, vector: Vector) -> None:
        """Count ``vector``."""
        key = (vector["kind"], vector["input"]["profile"])
        self.counts[key] = self.counts.get(key, 0) + 1

    @property
    def total(self) -> int:
        """Return the number of vectors written."""
        return sum(self.counts.values())


def project_root() -> Path:
    """Return the folder holding ``tests/conformance`` and ``examples`` (the checkout)."""
    return Path(__file__).resolve().parents[2]


def _instruction_groups(root: Path, limit: int | None, programs: int, summary: VectorSummary
                        ) -> Iterator[tuple[str, list[tuple[str, Vector]]]]:
    groups: list[tuple[str, Callable[[], sources.Source]]] = [
        ("conformance", lambda: sources.conformance_cases(root / CONFORMANCE_DIR,
                                                          summary.skipped)),
        ("agave", lambda: sources.agave_cases(programs)),
        ("kernel", lambda: sources.kernel_cases(programs)),
        ("edge", sources.edge_cases),
    ]
    for group, make in groups:
        out = []
        for vector_id, inputs in make()[:limit]:
            expected, names = expect(inputs)
            out.append((vector_id, make_vector("instruction", vector_id, group, names, inputs,
                                               expected)))
        yield f"instruction/{group}.jsonl", out


def _bundles(root: Path) -> list[Path]:
    return sorted(p for p in (root / EXAMPLES_DIR).rglob("*.yaml") if "vectors" not in p.parts)


def _runtime_groups(root: Path, limit: int | None, summary: VectorSummary
                    ) -> Iterator[tuple[str, list[tuple[str, Vector]]]]:
    base = root / EXAMPLES_DIR
    for path in _bundles(root)[:limit]:
        name = path.relative_to(base).as_posix()
        try:
            made = bundle_vectors(path, base)
        except ArspecError as error:
            summary.skipped.append((f"runtime {name}", str(error).splitlines()[0]))
            continue
        yield (f"runtime/{name.removesuffix('.yaml')}.jsonl",
               [(vid, make_vector("runtime", vid, f"examples/{name}", names, inputs, expected))
                for vid, inputs, expected, names in made])


def _verifier_groups(root: Path, limit: int | None, summary: VectorSummary
                     ) -> Iterator[tuple[str, list[tuple[str, Vector]]]]:
    base = root / EXAMPLES_DIR
    out = []
    for path in _bundles(root)[:limit]:
        name = path.relative_to(base).as_posix()
        try:
            vid, inputs, expected, names = bundle_vector(path, base)
        except ArspecError as error:
            summary.skipped.append((f"verifier {name}", str(error).splitlines()[0]))
            continue
        out.append((vid, make_vector("verifier", vid, f"examples/{name}", names, inputs,
                                     expected)))
    yield "verifier/examples.jsonl", out
    out = []
    for name, text in corpus_cases(root / CORPUS_DIR)[:limit]:
        try:
            vid, inputs, expected, names = text_vector(text, name)
        except ArspecError as error:
            summary.skipped.append((f"verifier {name}", str(error).splitlines()[0]))
            continue
        out.append((f"corpus/{vid}", make_vector("verifier", f"corpus/{vid}",
                                                 f"{CORPUS_DIR.as_posix()}/{name}", names,
                                                 inputs, expected)))
    yield "verifier/corpus.jsonl", out


def _write(out_dir: Path, relative: str, text: str) -> str:
    path = out_dir / relative
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8", newline="\n")
    return hashlib.sha256(text.encode()).hexdigest()


def schema_text(kind: str) -> str:
    """Return the JSON Schema of ``kind`` as the text written to disk."""
    return json.dumps(SCHEMAS[kind], indent=2, sort_keys=True) + "\n"


def write_vectors(out_dir: Path, *, kinds: Sequence[str] = KINDS,
                  progress: Progress | None = None, limit: int | None = None,
                  programs: int = RANDOM_PROGRAMS, root: Path | None = None) -> VectorSummary:
    """Write the vectors of ``kinds`` into ``out_dir`` and return what was written.

    ``limit`` keeps only the first ``limit`` vectors of each instruction source and the
    first ``limit`` bundles of the runtime and verifier kinds (a fast sample); ``programs``
    is the number of random programs per differential generator; ``root`` the checkout the
    sources are read from. ``progress`` receives one line per file written.

    Raises
    ------
    InputError
        For an unknown kind, an output path that is not a folder, or a ``root`` without the
        source folders.
    """
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        raise InputError(f"unknown vector kind {unknown[0]!r} (expected one of: "
                         f"{', '.join(KINDS)})")
    if out_dir.exists() and not out_dir.is_dir():
        raise InputError("not a folder", file=str(out_dir))
    root = project_root() if root is None else root
    for folder in (CONFORMANCE_DIR, EXAMPLES_DIR, CORPUS_DIR):
        if not (root / folder).is_dir():
            raise InputError(f"no folder {folder.as_posix()} under {root}: the vectors are "
                             "drawn from an arspec checkout")
    summary = VectorSummary(out_dir)
    manifest: list[dict[str, Any]] = []
    for kind in KINDS:
        if kind not in kinds:
            continue
        if kind == "instruction":
            groups = _instruction_groups(root, limit, programs, summary)
        elif kind == "runtime":
            groups = _runtime_groups(root, limit, summary)
        else:
            groups = _verifier_groups(root, limit, summary)
        for relative, vectors in groups:
            text = "".join(dump_line(v) + "\n" for _, v in vectors)
            digest = _write(out_dir, relative, text)
            for _, vector in vectors:
                summary.add(vector)
            summary.files.append(relative)
            manifest.append({"path": relative, "kind": kind, "vectors": len(vectors),
                             "sha256": digest})
            if progress is not None:
                progress(f"{relative}: {len(vectors)} vectors")
        relative = f"schemas/{kind}.schema.json"
        digest = _write(out_dir, relative, schema_text(kind))
        summary.files.append(relative)
        manifest.append({"path": relative, "kind": "schema", "vectors": 0, "sha256": digest})
    text = json.dumps({"format": FORMAT, "version": VERSION, "files": manifest}, indent=2,
                      sort_keys=True) + "\n"
    _write(out_dir, "manifest.json", text)
    summary.files.append("manifest.json")
    return summary


def render_summary(summary: VectorSummary) -> str:
    """Return the summary as text: vectors per kind and profile, files, skipped inputs."""
    lines = [f"wrote {summary.total} vectors in {len(summary.files)} files to "
             f"{summary.out_dir}"]
    for (kind, profile), count in sorted(summary.counts.items()):
        lines.append(f"  {kind:<12} {profile:<7} {count:>6}")
    for source, reason in summary.skipped:
        lines.append(f"  skipped {source}: {reason}")
    return "\n".join(lines)
