"""
Proofs
======

z3 proofs that the spec's invariants hold for all states: each module states one spec
mechanism as a symbolic transition system (:mod:`arspec.proofs.core`) and proves its
invariants by induction for every size a preset allows; :mod:`arspec.proofs.catalogue`
lists them for ``spec-check prove``. z3 is imported by :mod:`arspec.proofs.logic` only.
"""
