"""The SBPFv0 rules in the bundle runtime: exit codes fail and roll back.

Agave fails an instruction whose program exits with r0 != 0 and discards its writes; the
``solana`` runtime does the same. Logs are part of the run's result (text and JSON); the
sol_* syscalls are refused in bundles until the verifier has their contracts. Negative
cases first.
"""

from __future__ import annotations

import json
import textwrap

import pytest

from arspec.reference.runtime.run_report import render_json, render_text
from arspec.reference.runtime.runner import run_bundle_state
from arspec.spec.errors import InputError
from arspec.spec.loader import load_bundle_text

BUNDLE = """\
    arspec: 1
    name: exitcode
    profile: {profile}
    preset: linux_like
    maps:
      counters: {{type: array, value_size: 8, max_entries: 1}}
    programs:
      bump:
        code: |
          *(u32 *)(r10 - 4) = 0
          r1 = map_idx(counters)
          r2 = r10
          r2 += -4
          call bpf_map_lookup_elem
          if r0 == 0 goto out
          r1 = *(u64 *)(r0 + 0)
          r1 += 1
          *(u64 *)(r0 + 0) = r1
          r1 = r10
          r1 += -16
          *(u64 *)(r1 + 0) = 0x6968
          r2 = 2
          {log}
          out:
          r0 = {r0}
          exit
        hook: {{on: every, slots: 1}}
    scenario: {{slots: 3}}
"""


def _run(profile: str, r0: str, log: str = "") -> tuple[str, dict, int]:  # type: ignore[type-arg]
    text = textwrap.dedent(BUNDLE.format(profile=profile, r0=r0, log=log or "r2 = 2"))
    report, state = run_bundle_state(load_bundle_text(text, filename="inline.yaml"))
    # Array elements are created on first use: index 0, not the first one iterated.
    value = state.maps["counters"].elements[bytes(4)][0].value
    return render_text(report), json.loads(render_json(report)), int.from_bytes(value, "little")


@pytest.mark.parametrize(("r0", "error"), [
    ("1", "Custom(1)"), ("0x200000000 ll", "InvalidArgument"), ("-1", "InvalidError")])
def test_invalid_nonzero_exit_code_fails_and_rolls_back_in_solana(r0: str, error: str) -> None:
    text, _, count = _run("solana", r0)
    assert count == 0  # every invocation's map write was undone
    assert f"program error {error}" in text


def test_nonzero_exit_code_is_a_result_in_linux() -> None:
    _, _, count = _run("linux", "1")
    assert count == 3


def test_invalid_agave_syscall_is_refused_in_linux_bundles() -> None:
    with pytest.raises(InputError, match="sol_log_"):
        _run("linux", "0", "call sol_log_")


def test_agave_syscalls_run_in_solana_bundles() -> None:
    # The solana call table (arspec.spec.syscalls) has them, with verifier contracts.
    text, _, count = _run("solana", "0", "call sol_log_")
    assert count == 3
    assert text.count("log 'Program log: hi'") == 3


def test_logs_are_in_the_text_and_json_results() -> None:
    text, report, count = _run("solana", "0", "call arspec_log")
    assert count == 3
    assert "log 'hi'" in text
    logs = [log for slot in report["slots"] for event in slot["events"]
            for log in event.get("logs", [])]
    assert logs == ["hi"] * 3
