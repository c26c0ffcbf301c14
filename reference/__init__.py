"""
The reference implementation
============================

Four layers, each importing only the ones before it: :mod:`~arspec.reference.isa` (the
instruction set), :mod:`~arspec.reference.vm` (the interpreter, memory and profiles),
:mod:`~arspec.reference.runtime` (helpers bound onto the spec's transitions) and
:mod:`~arspec.reference.differential` (the other implementations arspec is compared with).
"""
