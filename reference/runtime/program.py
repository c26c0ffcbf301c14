"""
Loaded programs
===============

A bundle program ready to run. The loader (:mod:`~arspec.reference.runtime.runtime`) makes
them and the helpers (:mod:`~arspec.reference.runtime.runtime_helpers`) read them; both import
this module, and the runtime imports the helpers, so imports go one way.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from arspec.reference.isa.instructions import Program
from arspec.spec.types import ProgId


@dataclass(frozen=True)
class LoadedProgram:
    """A bundle program ready to run.

    ``map_indices`` translates the program's own ``map_idx`` numbers to bundle map indices
    (identity for assembly and hex; by name for ELF objects).
    """

    name: ProgId
    index: int
    program: Program
    functions: dict[str, int]
    map_indices: tuple[int, ...] | None = None
    #: pc -> (file, line) of the source the instruction came from, where known.
    source_lines: dict[int, tuple[str, int]] = field(default_factory=dict)
