"""
The checker
===========

The static verifier and the ``spec-check`` command line.
"""
