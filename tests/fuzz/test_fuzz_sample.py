"""A fixed-seed sample of the fuzzer (``benchmarks/fuzz_inputs.py`` runs 10**6 inputs)."""

from __future__ import annotations

import contextlib
import json
import random
from pathlib import Path
from typing import TextIO

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from arspec.cli import exit_codes
from arspec.cli import main as cli
from arspec.cli.commands import info as info_command
from arspec.cli.exit_codes import EXIT_NOT_REPRODUCED
from arspec.reference.isa.decoder import decode
from arspec.spec.errors import ArspecError
from arspec.spec.loader import BundleError, load_bundle_text
from tests.fuzz.driver import TRACE_BUNDLE, fuzz, prepare
from tests.fuzz.harness import Case, Finding, run_case
from tests.fuzz.inputs import Seeds, mutate_text, mutate_tree, next_case


@pytest.fixture(scope="module")
def seeds(tmp_path_factory: pytest.TempPathFactory) -> Seeds:
    found = prepare(tmp_path_factory.mktemp("fuzz"))
    assert found.objects, "clang made no objects from tests/c"
    assert found.trace is not None, "the explorer wrote no trace"
    return found


def _shown(findings: list[Finding]) -> str:
    return "\n\n".join(f"{f.problem}\n{f.case.show()}\n{f.detail}" for f in findings[:3])


def test_fixed_seed_sample_finds_nothing(seeds: Seeds) -> None:
    tally = fuzz(800, seed=20261206, seeds=seeds, hang_seconds=20.0)
    assert tally.runs == 800
    assert not tally.findings, _shown(tally.findings)
    # The sample reaches every entry point and every kind of outcome.
    kinds = {kind.split("-")[0] for kind in tally.by_kind}
    assert kinds == {"bundle", "bytecode", "asm", "elf", "trace", "cli"}
    assert {0, 1, 2} <= set(tally.by_code)


@settings(max_examples=60)
@given(st.randoms(use_true_random=False))
def test_generated_cases_keep_the_contract(seeds: Seeds, tmp_path_factory: pytest.TempPathFactory,
                                           rng: random.Random) -> None:
    case = next_case(rng, seeds)
    outcome = run_case(case, tmp_path_factory.mktemp("case"), hang_seconds=20.0)
    assert outcome.finding is None, _shown([outcome.finding])


@settings(max_examples=200)
@given(st.binary(max_size=200))
def test_any_bytes_as_a_bundle_load_or_fail_cleanly(raw: bytes) -> None:
    text = raw.decode("utf-8", "replace")
    try:
        load_bundle_text(text, filename="b.yaml")
    except BundleError as err:
        assert "\n" not in str(err)
        assert str(err).startswith("b.yaml")


@settings(max_examples=200)
@given(st.binary(max_size=160))
def test_any_bytes_as_bytecode_decode_or_fail_cleanly(raw: bytes) -> None:
    with contextlib.suppress(ArspecError):  # anything else fails the test
        decode(raw)


@settings(max_examples=40)
@given(st.randoms(use_true_random=False))
def test_mutated_bundles_load_or_fail_with_one_line(seeds: Seeds, rng: random.Random) -> None:
    _, text = rng.choice(seeds.bundles)
    mutated = mutate_tree(rng, text) if rng.random() < 0.5 else mutate_text(rng, text)
    try:
        load_bundle_text(mutated, filename="b.yaml")
    except BundleError as err:
        assert "\n" not in str(err) and str(err).startswith("b.yaml:")


def test_harness_reports_a_traceback(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    def crash(args: object, out: object) -> int:
        raise KeyError("x")

    monkeypatch.setattr(info_command, "run_schema", crash)
    outcome = run_case(Case("cli", ("schema",)), tmp_path)
    assert outcome.finding is not None and outcome.finding.problem == "traceback"


def test_harness_reports_a_hang(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:

    def spin(args: object, out: object) -> int:
        while True:
            pass

    monkeypatch.setattr(info_command, "run_schema", spin)
    outcome = run_case(Case("cli", ("schema",)), tmp_path, hang_seconds=0.2)
    assert outcome.finding is not None and outcome.finding.problem == "hang"


def test_harness_reports_a_run_that_waits(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    # The limit is CPU time; a run that sleeps is caught by the wall-clock limit (6x).
    import time


    def sleep(args: object, out: object) -> int:
        time.sleep(30)
        return 0

    monkeypatch.setattr(info_command, "run_schema", sleep)
    outcome = run_case(Case("cli", ("schema",)), tmp_path, hang_seconds=0.1)
    assert outcome.finding is not None and outcome.finding.problem == "hang"
    assert outcome.seconds < 5


def test_shared_setup_is_undone_and_shares_only_inputless_work() -> None:
    from arspec.proofs import catalogue
    from tests.fuzz.driver import shared_setup

    real_parser, real_prove = cli.build_parser, catalogue.prove
    with shared_setup():
        assert cli.build_parser() is cli.build_parser()
        first = catalogue.prove(["tailcall.limit"])
        again = catalogue.prove(["tailcall.limit"])
        assert first == again and first is not again  # a fresh list every time
    assert (cli.build_parser, catalogue.prove) == (real_parser, real_prove)
    assert cli.build_parser() is not cli.build_parser()


def test_harness_reports_a_hang_that_surfaces_as_an_internal_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ctypes turns the alarm's exception inside z3 into its own error, which arspec then
    # reports as an internal error (exit 4): still a hang, not a traceback.

    def spin_then_wrap(args: object, out: object) -> int:
        try:
            while True:
                pass
        except BaseException as err:
            raise ValueError(f"argument 2: {type(err).__name__}") from None

    monkeypatch.setattr(info_command, "run_schema", spin_then_wrap)
    outcome = run_case(Case("cli", ("schema",)), tmp_path, hang_seconds=0.2)
    assert outcome.code == exit_codes.EXIT_INTERNAL
    assert outcome.finding is not None and outcome.finding.problem == "hang"


def test_harness_reports_a_multi_line_usage_error(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from arspec.cli.options import UsageError

    def chatty(args: object, out: object) -> int:
        raise UsageError("error: one\nerror: two")

    monkeypatch.setattr(info_command, "run_schema", chatty)
    outcome = run_case(Case("cli", ("schema",)), tmp_path)
    assert outcome.finding is not None and outcome.finding.problem == "wrong exit code"


def test_harness_takes_a_trace_that_does_not_reproduce(seeds: Seeds, tmp_path: Path) -> None:
    # replay's documented exit 5 (with its "not reproduced" line) is an outcome, not a finding.
    assert seeds.trace is not None
    trace = json.loads(seeds.trace)
    trace["bundle"] = str(TRACE_BUNDLE)
    trace["steps"].insert(0, {"action": "RunHead"})  # nothing is queued yet
    case = Case("trace-replay", ("replay", "{dir}/t.json"),
                (("t.json", json.dumps(trace).encode()),))
    outcome = run_case(case, tmp_path)
    assert (outcome.code, outcome.finding) == (EXIT_NOT_REPRODUCED, None), outcome


def test_harness_reports_exit_5_outside_replay(tmp_path: Path,
                                               monkeypatch: pytest.MonkeyPatch) -> None:

    def odd(args: object, out: TextIO) -> int:
        print("\nnot reproduced: no", file=out)
        return EXIT_NOT_REPRODUCED

    monkeypatch.setattr(info_command, "run_schema", odd)
    outcome = run_case(Case("cli", ("schema",)), tmp_path)
    assert outcome.finding is not None and outcome.finding.problem == "wrong exit code"


@pytest.mark.slow
def test_benchmark_pool_log_and_totals(tmp_path: Path) -> None:
    # Two workers, four chunks: every chunk is logged once and the totals add up.
    import subprocess
    import sys

    root = Path(__file__).resolve().parents[2]
    log = tmp_path / "fuzz.log"
    done = subprocess.run([sys.executable, str(root / "benchmarks" / "fuzz_inputs.py"),
                           "--count", "40", "--chunk", "10", "--jobs", "2", "--seed", "5",
                           "--log", str(log)], capture_output=True, text=True, check=False,
                          timeout=600)
    assert done.returncode == 0, done.stdout + done.stderr
    rows = [json.loads(line) for line in log.read_text().splitlines()]
    assert sorted(row["chunk"] for row in rows) == [0, 10, 20, 30]
    assert sum(row["inputs"] for row in rows) == 40
    assert all(row["tracebacks"] == row["hangs"] == row["wrong_exit_codes"] == 0
               for row in rows)
    assert "inputs: 40 in " in done.stdout and "peak memory" in done.stdout
    summed = subprocess.run([sys.executable, str(root / "benchmarks" / "fuzz_inputs.py"),
                             "--totals", str(log)], capture_output=True, text=True, check=True)
    assert "all: 40 inputs (seeds 5), tracebacks 0, hangs 0, wrong exit codes 0" in \
        summed.stdout
