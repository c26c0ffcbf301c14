"""The reference runtime (helpers called from real bytecode) against the spec as a model.

A driver program reads a command (op, key, value, flags) from an account and calls one
helper; the model applies the same spec transition directly. ``tick`` runs a slot through
the scheduler on the system under test and fires timers / runs work items in the model. An
invariant compares every map (contents, timers, work items, ring positions) after each step.
"""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule
from runtime_support import load, prog_addr

from arspec.reference.runtime.runtime import ReferenceInvoker
from arspec.spec.errno import compute_r0
from arspec.spec.maps import FIRST_CPU, MapElement, process_map_delete, process_map_lookup
from arspec.spec.maps import process_map_update as spec_update
from arspec.spec.ringbuf import (
    process_ringbuf_discard,
    process_ringbuf_output,
    process_ringbuf_reserve,
    process_ringbuf_submit,
)
from arspec.spec.scheduler import create_initial_state, process_slot
from arspec.spec.state import TriggerKind, WorkItem, compute_map_key, make_entry
from arspec.spec.tailcall import TailCallResult, create_tail_call_chain, process_tail_call
from arspec.spec.timers import (
    get_due_timers,
    process_timer_callback_done,
    process_timer_cancel,
    process_timer_fire,
    process_timer_init,
    process_timer_set_callback,
    process_timer_start,
)
from arspec.spec.types import ComputeUnits, Cpu, Slot
from arspec.spec.workqueue import (
    get_pending_work,
    process_wq_callback_done,
    process_wq_init,
    process_wq_run,
    process_wq_set_callback,
    process_wq_start,
)

NULL_ELEMENT = 57005

DRIVER = """
      r1 = 0
      r2 = 0
      r3 = r10
      r3 += -32
      r4 = 32
      call 0x10001
      r6 = *(u64 *)(r10 - 32)
      r7 = *(u64 *)(r10 - 16)
      r8 = *(u64 *)(r10 - 8)
      *(u64 *)(r10 - 80) = r7
      *(u64 *)(r10 - 72) = 0
      *(u64 *)(r10 - 64) = 0
      *(u64 *)(r10 - 56) = 0
      *(u64 *)(r10 - 48) = 0
      *(u64 *)(r10 - 40) = 0
      if r6 == 1 goto op_update
      if r6 == 2 goto op_delete
      if r6 == 13 goto op_lookup
      if r6 == 10 goto op_reserve
      if r6 == 11 goto op_output
      if r6 == 12 goto op_tail
      r1 = map_idx(0) ll
      r2 = r10
      r2 += -24
      call 1
      if r0 == 0 goto nul
      r9 = r0
      if r6 == 3 goto op_tinit
      if r6 == 4 goto op_tcb
      if r6 == 5 goto op_tstart
      if r6 == 6 goto op_tcancel
      if r6 == 7 goto op_winit
      if r6 == 8 goto op_wcb
      if r6 == 9 goto op_wstart
      r0 = 0
      exit
    nul:
      r0 = 57005
      exit
    op_update:
      r1 = map_idx(0) ll
      r2 = r10
      r2 += -24
      r3 = r10
      r3 += -80
      r4 = r8
      call 2
      exit
    op_delete:
      r1 = map_idx(0) ll
      r2 = r10
      r2 += -24
      call 3
      exit
    op_lookup:
      r1 = map_idx(0) ll
      r2 = r10
      r2 += -24
      call 1
      if r0 == 0 goto miss
      r0 = *(u64 *)(r0 + 0)
      exit
    miss:
      r0 = -1
      exit
    op_tinit:
      r1 = r9
      r1 += 16
      r2 = map_idx(0) ll
      r3 = r8
      call 169
      exit
    op_tcb:
      r1 = r9
      r1 += 16
      r2 = TCB
      call 170
      exit
    op_tstart:
      r1 = r9
      r1 += 16
      r2 = r7
      r3 = r8
      call 171
      exit
    op_tcancel:
      r1 = r9
      r1 += 16
      call 172
      exit
    op_winit:
      r1 = r9
      r1 += 32
      r2 = map_idx(0) ll
      r3 = r8
      call 0x10003
      exit
    op_wcb:
      r1 = r9
      r1 += 32
      r2 = WCB
      r3 = r8
      call 0x10004
      exit
    op_wstart:
      r1 = r9
      r1 += 32
      r2 = r8
      call 0x10005
      exit
    op_reserve:
      r1 = map_idx(1) ll
      r2 = r7
      r3 = 0
      call 131
      if r0 == 0 goto rnull
      r1 = r0
      r2 = 0
      if r8 != 0 goto rdiscard
      call 132
      r0 = 1
      exit
    rdiscard:
      call 133
      r0 = 2
      exit
    rnull:
      r0 = 0
      exit
    op_output:
      r1 = map_idx(1) ll
      r2 = r10
      r2 += -80
      r3 = r7
      r4 = r8
      call 130
      exit
    op_tail:
      r2 = map_idx(2) ll
      r3 = r7
      r0 = 5
      call 12
      exit
"""

CALLBACK = """
      r1 = *(u64 *)(r3 + 8)
      r1 += STEP
      *(u64 *)(r3 + 8) = r1
      r0 = 0
      exit
"""


def indent(code: str) -> str:
    return "\n".join(" " * 10 + line.strip() for line in code.strip().splitlines())


BUNDLE = f"""
    arspec: 1
    profile: linux
    budgets: {{per_invocation: 10000, per_slot: 1000000}}
    accounts:
      cmd: {{size: 32}}
    maps:
      m: {{type: hash, key_size: 8, value_size: 48, max_entries: 3, timer: 16, wq: 32}}
      ring: {{type: ringbuf, max_entries: 4096}}
      progs: {{type: prog_array, max_entries: 2, entries: {{0: leaf}}}}
    programs:
      driver:
        hook: {{on: every, slots: 1000000}}
        code: |
{indent(DRIVER.replace("TCB", prog_addr(1)).replace("WCB", prog_addr(2)))}
      tcb:
        hook: {{on: timer}}
        code: |
{indent(CALLBACK.replace("STEP", "1"))}
      wcb:
        hook: {{on: workqueue}}
        code: |
{indent(CALLBACK.replace("STEP", "256"))}
      leaf:
        hook: {{on: tail_call}}
        code: "r0 = 77\\nexit"
    scenario: {{slots: 1}}
"""

KEYS = st.integers(0, 3)
FLAGS = st.sampled_from([0, 0, 0, 1, 2, 3, 4])


class RuntimeAgainstSpec(RuleBasedStateMachine):
    """Model: spec transitions on a spec state. System: bytecode on the reference runtime."""

    def __init__(self) -> None:
        super().__init__()
        self.bundle = load(BUNDLE)
        self.invoker = ReferenceInvoker(self.bundle, engine="auto")
        self.sut = create_initial_state(self.bundle)
        self.model = create_initial_state(self.bundle)
        self.sut.slot = self.model.slot = Slot(1)
        self.steps = 0

    # ------------------------------------------------------------------ plumbing

    def drive(self, op: int, key: int, value: int, flags: int) -> int:
        raw = b"".join(x.to_bytes(8, "little") for x in (op, key, value, flags))
        self.sut.accounts.accounts["cmd"].data[:] = raw  # type: ignore[index]
        self.steps += 1
        item = WorkItem(seq=self.steps, kind=TriggerKind.EVERY, entry=make_entry("driver"),
                        enqueued_slot=self.sut.slot)
        outcome = self.invoker(self.sut, item, ComputeUnits(10000), Cpu(0))
        assert outcome.fault is None, outcome.fault
        return outcome.r0

    def element(self, key: int) -> MapElement | None:
        return process_map_lookup(self.model.maps["m"], key.to_bytes(8, "little"))  # type: ignore[index]

    # ------------------------------------------------------------------ rules

    @rule(key=KEYS, value=st.integers(0, 2**64 - 1), flags=FLAGS)
    def update(self, key: int, value: int, flags: int) -> None:
        expected = spec_update(self.model.maps["m"], key.to_bytes(8, "little"),  # type: ignore[index]
                               value.to_bytes(8, "little") + bytes(40), flags, cpu=FIRST_CPU)
        assert self.drive(1, key, value, flags) == compute_r0(expected)

    @rule(key=KEYS)
    def delete(self, key: int) -> None:
        expected = process_map_delete(self.model.maps["m"], key.to_bytes(8, "little"))  # type: ignore[index]
        assert self.drive(2, key, 0, 0) == compute_r0(expected)

    @rule(key=KEYS)
    def lookup(self, key: int) -> None:
        element = self.element(key)
        expected = (1 << 64) - 1 if element is None else int.from_bytes(element.value[:8],
                                                                          "little")
        assert self.drive(13, key, 0, 0) == expected

    def timer_op(self, op: int, key: int, value: int, flags: int) -> None:
        element = self.element(key)
        if element is None:
            expected = NULL_ELEMENT
        else:
            timer = element.timer
            assert timer is not None
            if op == 3:
                result = process_timer_init(timer, flags)
            elif op == 4:
                result = process_timer_set_callback(timer, make_entry("tcb"))
            elif op == 5:
                result = process_timer_start(timer, self.model.sequence, self.model.slot,
                                             value, flags)
            else:
                result = process_timer_cancel(timer)
            expected = compute_r0(result)
        assert self.drive(op, key, value, flags) == expected

    @rule(key=KEYS, flags=st.sampled_from([0, 1, 7, 2, 16]))
    def timer_init(self, key: int, flags: int) -> None:
        self.timer_op(3, key, 0, flags)

    @rule(key=KEYS)
    def timer_set_callback(self, key: int) -> None:
        self.timer_op(4, key, 0, 0)

    @rule(key=KEYS, delay=st.integers(0, 3), flags=st.sampled_from([0, 0, 1, 2, 4]))
    def timer_start(self, key: int, delay: int, flags: int) -> None:
        self.timer_op(5, key, delay, flags)

    @rule(key=KEYS)
    def timer_cancel(self, key: int) -> None:
        self.timer_op(6, key, 0, 0)

    @rule(key=KEYS, value=st.integers(0, 9), delay=st.integers(0, 2))
    def insert_and_arm_timer(self, key: int, value: int, delay: int) -> None:
        self.update(key, value, 0)
        self.timer_op(3, key, 0, 1)
        self.timer_op(4, key, 0, 0)
        self.timer_op(5, key, delay, 0)

    def wq_op(self, op: int, key: int, flags: int) -> None:
        element = self.element(key)
        if element is None:
            expected = NULL_ELEMENT
        else:
            wq = element.wq
            assert wq is not None
            if op == 7:
                result = process_wq_init(wq, flags)
            elif op == 8:
                result = process_wq_set_callback(wq, make_entry("wcb"), flags)
            else:
                result = process_wq_start(wq, self.model.sequence, flags)
            expected = compute_r0(result)
        assert self.drive(op, key, 0, flags) == expected

    @rule(key=KEYS, flags=st.sampled_from([0, 0, 1]))
    def wq_init(self, key: int, flags: int) -> None:
        self.wq_op(7, key, flags)

    @rule(key=KEYS, flags=st.sampled_from([0, 0, 1]))
    def wq_set_callback(self, key: int, flags: int) -> None:
        self.wq_op(8, key, flags)

    @rule(key=KEYS, flags=st.sampled_from([0, 0, 1]))
    def wq_start(self, key: int, flags: int) -> None:
        self.wq_op(9, key, flags)

    @rule(key=KEYS, value=st.integers(0, 9), flags=st.sampled_from([0, 0, 1]))
    def insert_and_start_work(self, key: int, value: int, flags: int) -> None:
        self.update(key, value, 0)
        self.wq_op(7, key, 0)
        self.wq_op(8, key, 0)
        self.wq_op(9, key, flags)

    @rule(size=st.integers(0, 5000), discard=st.booleans())
    def ring_reserve(self, size: int, discard: bool) -> None:
        ring = self.model.maps["ring"].ringbuf  # type: ignore[index]
        assert ring is not None
        pos = process_ringbuf_reserve(ring, size, 0)
        if pos is None:
            expected = 0
        elif discard:
            process_ringbuf_discard(ring, pos, 0)
            expected = 2
        else:
            process_ringbuf_submit(ring, pos, 0)
            expected = 1
        assert self.drive(10, 0, size, int(discard)) == expected

    @rule(size=st.integers(0, 48), flags=st.sampled_from([0, 1, 2, 4]))
    def ring_output(self, size: int, flags: int) -> None:
        ring = self.model.maps["ring"].ringbuf  # type: ignore[index]
        assert ring is not None
        # the driver copies `size` bytes of its value buffer, whose first u64 is `size`
        data = (size.to_bytes(8, "little") + bytes(40))[:size]
        expected = process_ringbuf_output(ring, data, flags)
        assert self.drive(11, 0, size, flags) == compute_r0(expected)

    @rule(index=st.integers(0, 3))
    def tail_call(self, index: int) -> None:
        chain = create_tail_call_chain(self.model.preset)
        outcome = process_tail_call(chain, self.model.maps["progs"].prog_array, index)  # type: ignore[arg-type,index]
        expected = 77 if outcome.result is TailCallResult.JUMPED else 5
        assert self.drive(12, 0, index, 0) == expected

    @rule()
    def tick(self) -> None:
        model = self.model
        for due in get_due_timers({"m": model.maps["m"]}, model.slot):  # type: ignore[dict-item,index]
            timer = due.element.timer
            assert timer is not None
            process_timer_fire(timer)
            add_counter(due.element, 1)
            process_timer_callback_done(timer)
        for work in get_pending_work({"m": model.maps["m"]}):  # type: ignore[dict-item,index]
            wq = work.element.wq
            assert wq is not None
            process_wq_run(wq)
            add_counter(work.element, 256)
            process_wq_callback_done(wq)
        model.slot = Slot(model.slot + 1)
        events = process_slot(self.sut, self.bundle, self.invoker)
        assert all(not e.rolled_back for e in events)
        assert self.sut.slot == model.slot

    # ------------------------------------------------------------------ observation

    @invariant()
    def maps_agree(self) -> None:
        for name in self.model.maps:
            assert compute_map_key(self.sut.maps[name]) == compute_map_key(
                self.model.maps[name]), name
        assert self.sut.sequence.next_seq == self.model.sequence.next_seq


def add_counter(element: MapElement, step: int) -> None:
    counter = int.from_bytes(element.value[8:16], "little")
    element.value[8:16] = ((counter + step) % (1 << 64)).to_bytes(8, "little")


RuntimeAgainstSpec.TestCase.settings = settings(max_examples=60, stateful_step_count=30,
                                                deadline=None)
TestRuntimeAgainstSpec = RuntimeAgainstSpec.TestCase
