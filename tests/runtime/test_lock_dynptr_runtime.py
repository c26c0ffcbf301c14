"""The runtime's spin-lock and dynptr helpers: every misuse faults (and rolls back), the
correct patterns run, and both profiles reach the helpers (Linux ids, sBPF name hashes)."""

from __future__ import annotations

import textwrap

import pytest

from arspec.reference.runtime.run_report import EventRecord
from arspec.reference.runtime.runner import run_bundle_state
from arspec.spec.loader import load_bundle_text
from arspec.spec.state import RuntimeState
from arspec.spec.types import MapId

LOOKUP = """
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
r1 = map_idx(vals)
call bpf_map_lookup_elem
if r0 == 0 goto out
r6 = r0
"""
LOCK = "r1 = r6\nr1 += 8\ncall bpf_spin_lock\n"
UNLOCK = "r1 = r6\nr1 += 8\ncall bpf_spin_unlock\n"
RMW = "r1 = *(u64 *)(r6 + 0)\nr1 += 1\n*(u64 *)(r6 + 0) = r1\n"
END = "out:\nr0 = 0\nexit\n"
RESERVE = """
r1 = map_idx(feed)
r2 = 24
r3 = 0
r4 = r10
r4 += -16
call bpf_ringbuf_reserve_dynptr
"""
SUBMIT = "r1 = r10\nr1 += -16\nr2 = 0\ncall bpf_ringbuf_submit_dynptr\n"
DISCARD = "r1 = r10\nr1 += -16\nr2 = 0\ncall bpf_ringbuf_discard_dynptr\n"


def run(code: str, *, profile: str = "solana", ring: int = 4096,
        slots: int = 2) -> tuple[list[EventRecord], RuntimeState]:
    text = f"""arspec: 1
profile: {profile}
preset: linux_like
maps:
  vals: {{type: array, value_size: 16, max_entries: 2, spin_lock: 8}}
  feed: {{type: ringbuf, max_entries: {ring}}}
  seen: {{type: array, value_size: 8, max_entries: 1}}
programs:
  p:
    hook: {{on: every, slots: 1}}
    code: |
{textwrap.indent(code.strip(), '      ')}
  c:
    hook: {{on: ringbuf, map: feed}}
    code: |
      r6 = r2
      *(u32 *)(r10 - 4) = 0
      r2 = r10
      r2 += -4
      r1 = map_idx(seen)
      call bpf_map_lookup_elem
      if r0 == 0 goto out
      r1 = *(u64 *)(r0 + 0)
      r1 += r6
      *(u64 *)(r0 + 0) = r1
      out:
      r0 = 0
      exit
scenario:
  slots: {slots}
"""
    report, state = run_bundle_state(load_bundle_text(text, filename="t.yaml"), slots=slots)
    runs = [e for s in report.slots for e in s.events if e.kind == "run" and e.program == "p"]
    return runs, state


def value(state: RuntimeState, name: str, index: int = 0) -> bytes:
    return bytes(state.maps[MapId(name)].elements[index.to_bytes(4, "little")][0].value)


def faults(runs: list[EventRecord]) -> list[str]:
    return [e.fault or "" for e in runs]


# --------------------------------------------------------------------------- lock misuse


@pytest.mark.parametrize(("code", "message"), [
    (LOOKUP + LOCK + "call arspec_get_slot\n" + UNLOCK + END,
     "arspec_get_slot called while holding a bpf_spin_lock"),
    (LOOKUP + LOCK + LOCK + UNLOCK + END, "bpf_spin_lock called while holding"),
    (LOOKUP + UNLOCK + END, "without taking a lock"),
    (LOOKUP + LOCK + END, "bpf_spin_unlock is missing"),
    (LOOKUP + "r1 = r6\nr1 += 4\ncall bpf_spin_lock\n" + END, "is not the bpf_spin_lock"),
    (LOOKUP + LOCK + "call f\n" + UNLOCK + END + "f:\nr0 = 0\nexit\n",
     "bpf-to-bpf call while holding the lock"),
    (LOOKUP + "r1 = r6\ncall f\n" + UNLOCK + END + "f:\nr1 += 8\ncall bpf_spin_lock\n"
     "r0 = 0\nexit\n", "bpf-to-bpf function returns holding the lock"),
    (LOOKUP + "r1 = *(u32 *)(r6 + 8)\n" + END, "cannot be accessed directly by load/store"),
    (LOOKUP + "*(u64 *)(r6 + 8) = 0\n" + END, "cannot be accessed directly by load/store"),
    (LOOKUP + "r1 = *(u64 *)(r6 + 4)\n" + END, "cannot be accessed directly by load/store"),
    (LOOKUP + "*(u8 *)(r6 + 11) = 1\n" + END, "cannot be accessed directly by load/store"),
    (LOOKUP + LOCK + "r1 = *(u32 *)(r6 + 8)\n" + UNLOCK + END,
     "cannot be accessed directly by load/store"),
    ("r1 = r10\nr1 += -8\ncall bpf_spin_lock\nr0 = 0\nexit\n", "is not inside a map value"),
])
def test_lock_misuse_faults_and_rolls_back(code: str, message: str) -> None:
    runs, state = run(code)
    assert len(runs) == 2
    assert all(message in f for f in faults(runs)), faults(runs)
    assert all(e.rolled_back for e in runs)
    assert value(state, "vals") == bytes(16) if state.maps[MapId("vals")].elements else True


def test_unlock_of_another_value_faults() -> None:
    code = LOOKUP + """
*(u32 *)(r10 - 8) = 1
r2 = r10
r2 += -8
r1 = map_idx(vals)
call bpf_map_lookup_elem
if r0 == 0 goto out
r7 = r0
""" + LOCK + "r1 = r7\nr1 += 8\ncall bpf_spin_unlock\n" + END
    runs, _ = run(code)
    assert all("but the lock held is" in f for f in faults(runs))


@pytest.mark.parametrize(("code", "message"), [
    (LOOKUP + "r1 = 1\nlock *(u32 *)(r6 + 8) += r1\n" + END,
     "cannot be accessed directly by load/store"),
    (LOOKUP + "r0 = 0\nr1 = 1\nr0 = cmpxchg_64(r6 + 8, r0, r1)\n" + END,
     "cannot be accessed directly by load/store"),
    (RESERVE + "r1 = 1\nlock *(u64 *)(r10 - 8) += r1\n" + SUBMIT + "r0 = 0\nexit\n",
     "cannot overwrite referenced dynptr"),
])
def test_atomics_on_guarded_bytes_fault(code: str, message: str) -> None:
    runs, _ = run(code, profile="linux")
    assert len(runs) == 2
    assert all(message in f for f in faults(runs)), faults(runs)
    assert all(e.rolled_back for e in runs)


def test_lock_bytes_neighbours_and_calls_after_unlock_run() -> None:
    # The bytes next to the lock, a call after the unlock, a store next to a submitted or
    # live dynptr: no fault.
    code = (LOOKUP + "r1 = *(u64 *)(r6 + 0)\n*(u32 *)(r6 + 12) = 7\n" + LOCK + UNLOCK
            + "call f\n" + END + "f:\nr0 = 0\nexit\n")
    runs, state = run(code)
    assert faults(runs) == ["", ""]
    assert value(state, "vals")[12:] == (7).to_bytes(4, "little")
    runs, _ = run(RESERVE + "*(u64 *)(r10 - 24) = 0\n" + SUBMIT + "*(u64 *)(r10 - 16) = 0\n"
                  "r0 = 0\nexit\n")
    assert faults(runs) == ["", ""]


def test_locked_update_counts_and_leaves_the_word_free() -> None:
    runs, state = run(LOOKUP + LOCK + RMW + UNLOCK + END, slots=3)
    assert faults(runs) == ["", "", ""]
    stored = value(state, "vals")
    assert int.from_bytes(stored[:8], "little") == 3
    assert stored[8:12] == bytes(4)


def test_linux_profile_reaches_the_lock_helpers_by_id() -> None:
    runs, state = run(LOOKUP + LOCK + RMW + UNLOCK + END, profile="linux")
    assert faults(runs) == ["", ""]
    assert int.from_bytes(value(state, "vals")[:8], "little") == 2


# --------------------------------------------------------------------------- dynptr misuse


@pytest.mark.parametrize(("code", "message"), [
    (RESERVE + "r0 = 0\nexit\n", "ring-buffer dynptr(s) neither submitted nor discarded"),
    (SUBMIT + "r0 = 0\nexit\n", "is not an initialised bpf_dynptr"),
    (RESERVE + "*(u64 *)(r10 - 16) = 0\n" + SUBMIT + "r0 = 0\nexit\n",
     "cannot overwrite referenced dynptr"),
    (RESERVE + "*(u8 *)(r10 - 1) = 0\n" + SUBMIT + "r0 = 0\nexit\n",
     "cannot overwrite referenced dynptr"),
    (RESERVE + "*(u64 *)(r10 - 20) = 0\n" + SUBMIT + "r0 = 0\nexit\n",
     "cannot overwrite referenced dynptr"),
    (RESERVE.replace("r2 = 24", "r2 = 5000") + "*(u32 *)(r10 - 8) = 0\n" + DISCARD
     + "r0 = 0\nexit\n", "cannot overwrite referenced dynptr"),
    (RESERVE + SUBMIT + SUBMIT + "r0 = 0\nexit\n", "is not an initialised bpf_dynptr"),
    (RESERVE + RESERVE + "r0 = 0\nexit\n", "overwrites the live ring-buffer dynptr"),
    (RESERVE.replace("r4 += -16", "r4 += -20") + "r0 = 0\nexit\n", "not an 8-aligned"),
    (RESERVE + "r1 = r10\nr1 += -16\nr2 = 8\ncall bpf_ringbuf_submit_dynptr\nr0 = 0\nexit\n",
     "unknown ring-buffer commit flags"),
    ("""*(u64 *)(r10 - 32) = 1
r1 = r10
r1 += -32
r2 = 8
r3 = 0
r4 = r10
r4 += -16
call bpf_dynptr_from_mem
""" + SUBMIT + "r0 = 0\nexit\n", "is a local dynptr"),
    (RESERVE + "r1 = r10\nr1 += -16\nr2 = 40\nr3 = 8\ncall bpf_dynptr_data\n"
     "*(u64 *)(r0 + 0) = 1\n" + SUBMIT + "r0 = 0\nexit\n", "address 0x0"),
])
def test_dynptr_misuse_faults(code: str, message: str) -> None:
    runs, state = run(code)
    assert all(message in f for f in faults(runs)), faults(runs)
    assert value(state, "seen") == bytes(8)  # nothing was published


def test_failed_reservation_still_needs_a_release() -> None:
    # A 4096-byte ring cannot hold a 5000-byte record: the dynptr is NULL, r0 = -EINVAL.
    code = RESERVE.replace("r2 = 24", "r2 = 5000") + "r0 = 0\nexit\n"
    runs, _ = run(code)
    assert all("neither submitted nor discarded" in f for f in faults(runs))
    runs, _ = run(RESERVE.replace("r2 = 24", "r2 = 5000") + "r6 = r0\n" + DISCARD
                  + "r0 = r6\nexit\n", profile="linux")
    assert [e.r0 for e in runs] == [(-22) & (2**64 - 1)] * 2
    assert faults(runs) == ["", ""]


def test_records_through_a_dynptr_reach_the_subscriber() -> None:
    code = RESERVE + """
if r0 != 0 goto bad
*(u64 *)(r10 - 24) = 77
r1 = r10
r1 += -16
r2 = 16
r3 = r10
r3 += -24
r4 = 8
r5 = 0
call bpf_dynptr_write
r1 = r10
r1 += -16
r2 = 0
r3 = 8
call bpf_dynptr_data
if r0 == 0 goto sub
*(u64 *)(r0 + 0) = 5
sub:
r1 = r10
r1 += -40
r2 = 8
r3 = r10
r3 += -16
r4 = 16
r5 = 0
call bpf_dynptr_read
r1 = *(u64 *)(r10 - 40)
if r1 != 77 goto bad2
""" + SUBMIT + "r0 = 0\nexit\nbad:\n" + DISCARD + "r0 = 1\nexit\nbad2:\n" + SUBMIT \
        + "r0 = 2\nexit\n"
    runs, state = run(code, profile="linux")
    assert faults(runs) == ["", ""] and [e.r0 for e in runs] == [0, 0]
    assert int.from_bytes(value(state, "seen"), "little") == 48  # two 24-byte records


def test_dynptr_read_and_write_report_linux_errors() -> None:
    code = """*(u64 *)(r10 - 32) = 1
r1 = r10
r1 += -32
r2 = 8
r3 = 0
r4 = r10
r4 += -16
call bpf_dynptr_from_mem
r1 = r10
r1 += -40
r2 = 8
r3 = r10
r3 += -16
r4 = 4
r5 = 0
call bpf_dynptr_read
exit
"""
    runs, _ = run(code, profile="linux")
    assert [e.r0 for e in runs] == [(-7) & (2**64 - 1)] * 2  # -E2BIG: 4 + 8 > 8
