"""Loading bundles into the runtime (and refusing bad ones), reports and determinism."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from runtime_support import load, run, run_events, solana_id

from arspec.reference.runtime.run_report import REPORT_FORMAT, render_json, render_text
from arspec.reference.runtime.runner import run_bundle
from arspec.reference.runtime.runtime import ReferenceInvoker
from arspec.spec.environment import NS_PER_SLOT
from arspec.spec.errors import InputError


def one_program(code: str, profile: str = "linux", functions: str = "") -> str:
    body = textwrap.indent(textwrap.dedent(code).strip(), " " * 10)
    return f"""
    arspec: 1
    profile: {profile}
    programs:
      p:
        hook: {{on: startup}}
        {functions}
        code: |
{body}
    scenario: {{slots: 2}}
    """


@pytest.mark.parametrize("name", ["bpf_ktime_get_ns", "bpf_get_prandom_u32",
                                  "bpf_get_smp_processor_id", "bpf_ktime_get_boot_ns"])
def test_invalid_nondeterministic_helper_refused_at_load_in_solana(name: str) -> None:
    bundle = load(one_program(f"call {solana_id(name):#x}\nexit", profile="solana"))
    with pytest.raises(InputError, match="nondeterministic and refused in the solana"):
        ReferenceInvoker(bundle)


def test_invalid_trace_printk_refused_in_solana() -> None:
    bundle = load(one_program(f"call {solana_id('bpf_trace_printk'):#x}\nexit", "solana"))
    with pytest.raises(InputError, match="not available in the solana profile"):
        run_bundle(bundle)


def test_invalid_linux_id_in_solana_gets_a_hint() -> None:
    bundle = load(one_program("call 1\nexit", profile="solana"))
    with pytest.raises(InputError, match=r"pc 0: unknown helper 0x1 .*bpf_map_lookup_elem is"):
        run_bundle(bundle)


def test_invalid_unknown_helper_id_in_linux() -> None:
    with pytest.raises(InputError, match=r"programs\.p: pc 1: unknown helper id 4242"):
        run_bundle(load(one_program("r0 = 0\ncall 4242\nexit")))


def test_invalid_kfunc_call() -> None:
    with pytest.raises(InputError, match="kfunc calls are not supported"):
        run_bundle(load(one_program("call kfunc 7\nexit")))


def test_invalid_function_label() -> None:
    text = one_program("r0 = 0\nexit", functions="functions: {cb: nowhere}")
    with pytest.raises(InputError, match=r"functions\.cb: no label .nowhere."):
        run_bundle(load(text))


def test_invalid_function_pc_in_lddw_second_slot() -> None:
    text = one_program("r1 = 5 ll\nexit", functions="functions: {cb: 1}")
    with pytest.raises(InputError, match="pc 1 is not an instruction"):
        run_bundle(load(text))


def test_function_labels_resolve_to_pcs() -> None:
    text = one_program("r1 = 5 ll\nexit\ncb:\nr0 = 1\nexit", functions="functions: {cb: cb}")
    invoker = ReferenceInvoker(load(text))
    assert invoker.programs["p"].functions == {"cb": 3}


def test_invalid_assembly_is_located() -> None:
    # Located in the bundle text: the code block's second line, after its indentation.
    with pytest.raises(InputError, match=r"^inline\.yaml:10:7: error: programs\.p\.code: "
                                         r"unknown mnemonic"):
        run_bundle(load(one_program("r0 = 0\nmvo r0, 1\nexit")))


@pytest.mark.parametrize("slots", [0, -1, 1_000_001, True, "3"])
def test_invalid_slot_count(slots: object) -> None:
    with pytest.raises(InputError, match="--slots must be"):
        run_bundle(load(one_program("r0 = 0\nexit")), slots=slots)  # type: ignore[arg-type]


def test_invalid_engine() -> None:
    with pytest.raises(InputError, match="unknown engine"):
        run_bundle(load(one_program("r0 = 0\nexit")), engine="jit")


def test_nondeterministic_helpers_are_deterministic_in_linux() -> None:
    code = """
    call 0x10000
    r6 = r0
    call 5
    r7 = r0
    call 7
    r8 = r0
    call 7
    if r0 == r8 goto same
    r0 = r7
    exit
    same:
    r0 = 1
    exit
    """
    text = one_program(code).replace("{on: startup}", "{on: every, slots: 1}")
    report, _ = run(text)
    assert [e.r0 for e in run_events(report)] == [0, NS_PER_SLOT]
    again, _ = run(text)
    assert render_json(again) == render_json(report)


def test_missing_map_reference_is_a_load_error() -> None:
    # The runtime refuses the bundle when loading it, before any run, naming where and why.
    with pytest.raises(InputError, match=r"^inline\.yaml:9:20: error: programs\.p\.code: "
                       r"lddw map_idx names map 3, but the bundle declares no maps$"):
        run(one_program("r1 = map_idx(3) ll\nr0 = 0\nexit"))


def test_fault_in_one_program_does_not_stop_the_run() -> None:
    report, _ = run(one_program("r0 = *(u64 *)(r0 + 0)\nexit").replace(
        "{on: startup}", "{on: every, slots: 1}"))
    assert report.totals.failures == 2 and report.totals.invocations == 2


def test_json_report_is_versioned_and_complete() -> None:
    report, _ = run(one_program("r0 = 3\nexit"))
    doc = json.loads(render_json(report))
    assert (doc["format"], doc["version"]) == (REPORT_FORMAT, 1) == ("arspec-run", 1)
    assert list(doc) == ["format", "version", "bundle", "profile", "preset", "slot_budget_cu",
                         "slots", "totals", "final", "final_not_shown", "faulted"]
    assert doc["faulted"] is False and doc["final_not_shown"] == {}
    run_event = doc["slots"][0]["events"][1]
    assert run_event["kind"] == "run" and run_event["r0"] == 3 and run_event["used_cu"] == 2
    assert doc["totals"]["invocations"] == 1


def test_text_report_lists_runs_and_omits_idle_slots() -> None:
    report, _ = run(one_program("r0 = 3\nexit"))
    text = render_text(report)
    assert "slot 0: 1 run(s), 2 CU" in text
    assert "slot 1" not in text and "1 slot(s) with no activity not shown" in text
    assert "r0=3 [startup]" in text


def test_text_report_shows_rollbacks() -> None:
    report, _ = run(one_program("r0 = *(u64 *)(r0 + 0)\nexit"))
    assert "ROLLED BACK: memory fault at pc 0" in render_text(report)


SCRIPT = """
import sys
from arspec.spec.loader import load_bundle
from arspec.reference.runtime.runner import run_bundle
from arspec.reference.runtime.run_report import render_json, render_text
report = run_bundle(load_bundle(sys.argv[1]))
sys.stdout.write(render_json(report) + render_text(report))
"""

BUNDLE = """
arspec: 1
profile: linux
accounts:
  o: {size: 8, fields: {v: {offset: 0, type: u64}}}
maps:
  h: {type: hash, key_size: 8, value_size: 8, max_entries: 8}
  pc: {type: percpu_array, value_size: 8, max_entries: 1}
programs:
  w:
    hook: {on: watch, account: o, field: v, op: changed}
    code: |
      call 0x10000
      *(u64 *)(r10 - 8) = r0
      r1 = map_idx(0) ll
      r2 = r10
      r2 += -8
      r3 = r10
      r3 += -8
      r4 = 0
      call 2
      call 8
      r0 = r0
      exit
scenario:
  slots: 12
  writes:
    - {slot: 1, account: o, field: v, value: 1}
    - {slot: 4, account: o, field: v, value: 2}
    - {slot: 9, account: o, field: v, value: 3}
"""


def test_output_is_identical_across_hash_seeds(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text(BUNDLE)
    outputs = set()
    for seed in ("0", "1", "12345"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        result = subprocess.run([sys.executable, "-c", SCRIPT, str(path)], env=env,
                                capture_output=True, check=True)
        outputs.add(result.stdout)
    assert len(outputs) == 1
    assert b'"invocations":3' in outputs.pop()


def test_interpreter_and_fast_engine_agree() -> None:
    bundle = load(BUNDLE)
    fast = render_json(run_bundle(bundle, engine="fast"))
    slow = render_json(run_bundle(bundle, engine="interpreter"))
    assert fast == slow
