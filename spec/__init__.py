"""
The executable specification
============================

State types, presets and transitions of the autonomous runtime. Pure Python: nothing here
imports z3, networkx or the reference VM.
"""
