"""
The runtime binding
===================

Invocations of bundle programs on the VM: the helpers bound to the spec's transitions, the
Solana syscalls, program contexts, the scenario runner and its reports, and the C header
generated from the spec's tables.
"""
