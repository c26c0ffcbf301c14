"""
The implementations arspec is compared with
===========================================

Agave's sBPF VM (through LiteSVM), the running Linux kernel (through ``bpf(2)``), the
bpf_conformance suite and its plugin, and the conformance data files.
"""
