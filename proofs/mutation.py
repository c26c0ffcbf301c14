"""
Mutations
=========

The spec side of a negative twin: a :class:`Mutation` names a spec function and source
edits, :func:`mutate` compiles the edited copy in the function's module namespace, and
:func:`mutated_spec` puts it in place of the original while a block runs (callers that look
the function up in its module, as the proof systems' ``execute`` functions do, then run the
broken copy). The spec's files are never changed.
"""

from __future__ import annotations
import __future__

import importlib
import inspect
import textwrap
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Mutation:
    """A source change of a spec function: each ``(old, new)`` edit, ``old`` found once."""

    module: str
    function: str
    edits: tuple[tuple[str, str], ...]


def mutate(mutation: Mutation) -> Callable[..., Any]:
    """Return a copy of the spec function with the mutation's edits applied to its source."""
    module = importlib.import_module(mutation.module)
    original = getattr(module, mutation.function)
    source = textwrap.dedent(inspect.getsource(original))
    for old, new in mutation.edits:
        count = source.count(old)
        if count != 1:
            raise ValueError(f"{mutation.module}.{mutation.function}: {old!r} occurs "
                             f"{count} times, not once")
        source = source.replace(old, new)
    code = compile(source,
                   f"<mutated {mutation.function}>", "exec",
                   flags=__future__.annotations.compiler_flag, dont_inherit=True)
    namespace = dict(vars(module))
    exec(code, namespace)
    mutated: Callable[..., Any] = namespace[mutation.function]
    return mutated


@contextmanager
def mutated_spec(mutation: Mutation) -> Iterator[None]:
    """Replace the spec function by its mutated copy in its module while the block runs."""
    module = importlib.import_module(mutation.module)
    original = getattr(module, mutation.function)
    setattr(module, mutation.function, mutate(mutation))
    try:
        yield
    finally:
        setattr(module, mutation.function, original)
