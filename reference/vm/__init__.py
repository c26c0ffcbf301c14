"""
The virtual machine
===================

The interpreter and its fast path (programs translated into Python), the ALU, the memory
model with its regions, the two profiles, load-time checks, the helper registry and tracing.
"""
