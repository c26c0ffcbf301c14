"""Hypothesis pins the verifier's spin-lock and dynptr rules to the runtime: for straight-line
programs drawn from lock and dynptr operations, memory is REFUTED exactly when the runtime
faults and PROVED only when it does not (no operation here is policy-only: bpf-to-bpf calls
and returns with the lock held, loads and stores of the lock's bytes and stores over a live
ring dynptr fault too)."""

from __future__ import annotations

import textwrap
from pathlib import Path

from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from arspec.checker.verdict import Property, Verdict
from arspec.checker.verify_bundle import verify_bundle
from arspec.reference.runtime.runner import run_bundle
from arspec.spec.loader import load_bundle

LOCK_OPS = {
    "lock": "r1 = r6\nr1 += 8\ncall bpf_spin_lock\n",
    "lock_off": "r1 = r6\nr1 += 4\ncall bpf_spin_lock\n",
    "unlock": "r1 = r6\nr1 += 8\ncall bpf_spin_unlock\n",
    "call": "call arspec_get_slot\n",
    "rmw": "r1 = *(u64 *)(r6 + 0)\nr1 += 1\n*(u64 *)(r6 + 0) = r1\n",
    "fcall": "call f\n",
    "flock": "r1 = r6\ncall g\n",
    "peek": "r1 = *(u32 *)(r6 + 8)\n",
    "poke": "*(u8 *)(r6 + 11) = 0\n",
    "near": "r1 = *(u64 *)(r6 + 0)\n*(u32 *)(r6 + 12) = 1\n",
}
DYN_OPS = {
    "reserve": "r1 = map_idx(feed)\nr2 = 16\nr3 = 0\nr4 = r10\nr4 += -16\n"
               "call bpf_ringbuf_reserve_dynptr\n",
    "local": "r1 = r10\nr1 += -48\nr2 = 16\nr3 = 0\nr4 = r10\nr4 += -16\n"
             "call bpf_dynptr_from_mem\n",
    "submit": "r1 = r10\nr1 += -16\nr2 = 0\ncall bpf_ringbuf_submit_dynptr\n",
    "discard": "r1 = r10\nr1 += -16\nr2 = 0\ncall bpf_ringbuf_discard_dynptr\n",
    "write": "r1 = r10\nr1 += -16\nr2 = 4\nr3 = r10\nr3 += -48\nr4 = 8\nr5 = 0\n"
             "call bpf_dynptr_write\n",
    "read": "r1 = r10\nr1 += -64\nr2 = 8\nr3 = r10\nr3 += -16\nr4 = 8\nr5 = 0\n"
            "call bpf_dynptr_read\n",
    "slice": "r1 = r10\nr1 += -16\nr2 = 8\nr3 = 8\ncall bpf_dynptr_data\n"
             "if r0 == 0 goto +1\n*(u64 *)(r0 + 0) = 1\n",
    "clobber": "*(u32 *)(r10 - 8) = 0\n",
    "beside": "*(u64 *)(r10 - 24) = 0\n",
}
#: Functions the ops may call: ``f`` does nothing, ``g`` takes the lock r1 + 8 and returns.
FUNCTIONS = "f:\nr0 = 0\nexit\ng:\nr1 += 8\ncall bpf_spin_lock\nr0 = 0\nexit\n"
PRELUDE = """*(u64 *)(r10 - 48) = 1
*(u64 *)(r10 - 40) = 2
*(u64 *)(r10 - 64) = 0
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
r1 = map_idx(vals)
call bpf_map_lookup_elem
if r0 == 0 goto out
r6 = r0
"""
SETTINGS = settings(max_examples=25, deadline=None, derandomize=True,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])


def bundle(code: str) -> str:
    return f"""arspec: 1
profile: linux
preset: linux_like
maps:
  vals: {{type: array, value_size: 16, max_entries: 1, spin_lock: 8}}
  feed: {{type: ringbuf, max_entries: 4096}}
programs:
  p:
    hook: {{on: every, slots: 1}}
    code: |
{textwrap.indent(code, '      ')}
"""


def check(ops: list[str], table: dict[str, str], tmp_path: Path) -> None:
    code = PRELUDE + "".join(table[o] for o in ops) + "out:\nr0 = 0\nexit\n" + FUNCTIONS
    path = tmp_path / "b.yaml"
    path.write_text(bundle(code))
    report = verify_bundle(str(path), timeout=30).programs[0].report
    verdict = report.verdict(Property.MEMORY)
    runs = [e for s in run_bundle(load_bundle(str(path)), slots=1).slots for e in s.events
            if e.kind == "run"]
    faulted = any(e.fault is not None for e in runs)
    assert verdict is not Verdict.UNKNOWN, (ops, [f.render() for f in report.findings])
    assert (verdict is Verdict.REFUTED) == faulted, (ops, verdict, [e.fault for e in runs])


@SETTINGS
@given(st.lists(st.sampled_from(sorted(LOCK_OPS)), max_size=6))
@example(ops=["lock", "fcall", "unlock"])
@example(ops=["flock", "unlock"])
@example(ops=["flock"])
@example(ops=["peek"])
@example(ops=["lock", "poke", "unlock"])
@example(ops=["lock", "unlock", "fcall", "near"])
def test_lock_rules_match_the_runtime(tmp_path: Path, ops: list[str]) -> None:
    check(ops, LOCK_OPS, tmp_path)


@SETTINGS
@given(st.lists(st.sampled_from(sorted(DYN_OPS)), max_size=6))
@example(ops=["reserve", "clobber", "submit"])
@example(ops=["reserve", "beside", "discard", "clobber"])
@example(ops=["local", "clobber"])
def test_dynptr_rules_match_the_runtime(tmp_path: Path, ops: list[str]) -> None:
    check(ops, DYN_OPS, tmp_path)
