"""
The model checker
=================

The explicit-state explorer of the runtime's interleavings.
"""
