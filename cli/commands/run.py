"""``run``: a bundle's scenario slot by slot on the reference runtime."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TextIO

from arspec.cli.commands import set_status
from arspec.cli.exit_codes import EXIT_FAILED, EXIT_OK
from arspec.cli.options import located
from arspec.spec.errors import InputError


def run_run(args: argparse.Namespace, out: TextIO) -> int:
    """Run the scenario and write the slot report (text or ``arspec-run`` JSON)."""
    from arspec.reference.runtime.run_report import render_json, render_text
    from arspec.reference.runtime.runner import run_bundle
    from arspec.spec.loader import load_bundle

    bundle = load_bundle(args.bundle)

    def progress(done: int, total: int) -> None:
        set_status(args, f"slot {done:,} of {total:,}")

    try:
        report = run_bundle(bundle, slots=args.slots, base_dir=Path(args.bundle).parent,
                            engine=args.engine, progress=progress)
    except InputError as err:
        raise located(err, args.bundle) from None
    out.write(render_json(report) if args.format == "json" else render_text(report))
    return EXIT_FAILED if report.faulted else EXIT_OK
