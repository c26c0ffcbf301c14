"""
The reference implementation
============================

The instruction set (decode, encode, assemble, disassemble, ELF loading), the interpreter
with its memory model and profiles, and the helper bindings onto spec transitions.
"""
