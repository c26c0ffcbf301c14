"""Language-neutral test vectors for other implementations (``spec-check vectors OUT_DIR``).

Three kinds, each JSON lines with a JSON Schema: instruction-level runs
(:mod:`~arspec.cli.vectors.instruction`), runtime slots
(:mod:`~arspec.cli.vectors.runtime`) and verifier verdicts
(:mod:`~arspec.cli.vectors.verifier`); :func:`write_vectors` writes them.
"""

from arspec.cli.vectors.writer import VectorSummary, render_summary, write_vectors

__all__ = ["VectorSummary", "render_summary", "write_vectors"]
