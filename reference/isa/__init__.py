"""
The instruction set
===================

Opcodes and instructions, the decoder and encoder, the three assembly syntaxes and the
disassembler, and the program files a user hands in (raw bytecode and ELF objects).
Nothing here runs a program.
"""
