"""
The ``spec-check`` command line
===============================

One entry point for every job arspec does. ``spec-check BUNDLE.yaml`` (the same as
``spec-check verify BUNDLE.yaml``) checks a bundle; the other subcommands work on single
programs (``asm``, ``disasm``, ``exec``) or run and explore bundles; ``include-dir`` prints
the folder of the C header ``arspec/sol.h``.

Exit codes are uniform: 0 success (all requested properties hold), 1 a property was refuted
or a program faulted, 2 bad input or usage, 3 inconclusive (UNKNOWN or a bound reached),
4 internal error (a bug in arspec, never a verdict), 5 (``replay`` only) the trace did not
reproduce (a step is not enabled, or the invariant holds at its end).
Bad input is reported as one line on stderr, never as a traceback; so is an internal error,
whose line names the input and the failing step (``--debug`` adds the traceback).

This package is the only front end: it loads a bundle once, runs the engines (verifier,
explorer, runner, replay, prover), which return plain result objects and never print or
exit, and renders their results as text, JSON or SARIF (:mod:`arspec.cli.render`) with one
exit-code table (:mod:`arspec.cli.exit_codes`).
"""
