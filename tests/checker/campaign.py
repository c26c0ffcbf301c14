"""Soundness campaign: random bundles aimed at where verifiers go wrong, checked on the runtime.

:func:`generate_case` draws one bundle from a seed (the same seed gives the same bundle):
loops with and without exits, counters that reset, nested and bpf-to-bpf calls (sometimes
recursive), pointer arithmetic on the stack and on map values, null checks in odd places,
32- and 64-bit bounds, shifts by large amounts, divisions by values that may be zero, helpers
given each wrong argument kind, maps of each type given to each map helper, tail calls,
timers, ring buffers and queues, spin locks (held across calls, nested, never released,
pointing beside the lock) and dynptrs (local and ring-buffer, released or leaked, slices
with and without the NULL check, overwritten while live), map-value addresses read as numbers
(shifted, masked, spilled and reloaded, compared, passed as a helper's number: the verifier's
object regions are not the runtime's); ``solana`` cases also call the
Agave syscalls with good and bad arguments, register and remove run-time watchers, and use
the ``sol_*`` names. :func:`check_case` verifies it
(:func:`~arspec.checker.verify_bundle.verify_bundle`) and holds every verdict to the
reference runtime (:func:`~arspec.reference.runtime.runner.run_bundle`, the real helpers) over
several slots and several initial map states:

* every ``REFUTED`` finding carries a counterexample that replayed;
* a run that faults contradicts a ``PROVED`` verdict of the property the fault belongs to
  (any fault contradicts the five safety properties all ``PROVED``); a ``solana`` exit with
  ``r0 != 0`` fails the invocation too, but as the program's own error (Agave's ``Custom``),
  which no property excludes;
* a run never uses more compute units than a ``PROVED`` compute figure;
* with determinism ``PROVED``, two runs of the same bundle report the same.

Any contradiction is an *unsound* verdict. ``tests/checker/test_campaign.py`` runs a
fixed-seed sample; ``benchmarks/soundness_campaign.py`` runs thousands. Every generated bundle
loads (a load error tests no verdict; ``tests/checker/test_campaign_loads.py``).
"""

from __future__ import annotations

import random
import re
import time
from dataclasses import dataclass, field
from pathlib import Path

from arspec.checker.verdict import Property, Verdict
from arspec.checker.verify_bundle import BundleResult, verify_bundle
from arspec.cli.exit_codes import exit_code_of
from arspec.reference.runtime.run_report import RunReport
from arspec.reference.runtime.runner import run_bundle
from arspec.spec.errors import InputError
from arspec.spec.loader import load_bundle

#: Properties whose PROVED verdicts together promise a run without any fault.
SAFETY = (Property.TERMINATION, Property.MEMORY, Property.DIVISION, Property.CONTROL,
          Property.COMPUTE)
#: Runtime fault kinds (``ExecutionFault.kind``) and the property each contradicts.
FAULT_PROPERTY = (("instruction limit", Property.COMPUTE), ("memory fault", Property.MEMORY),
                  ("division", Property.DIVISION), ("call depth", Property.CONTROL),
                  ("program overrun", Property.CONTROL), ("invalid", Property.CONTROL),
                  ("spin-lock fault", Property.MEMORY))
#: How the runtime reports a ``solana`` exit with ``r0 != 0``: a failure the program chose.
PROGRAM_ERROR = "program error "
WIDTHS = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}
#: Map declarations a case may use: name -> (yaml, type, value size, entries).
MAPS = {
    "vals": ("{type: array, value_size: 32, max_entries: 4, timer: 16, pinned: true}",
             "array", 32, 4),
    "h": ("{type: hash, key_size: 4, value_size: 8, max_entries: 4}", "hash", 8, 4),
    "ring": ("{type: ringbuf, max_entries: 4096}", "ringbuf", 0, 0),
    "q": ("{type: queue, value_size: 8, max_entries: 4}", "queue", 8, 4),
    "progs": ("{type: prog_array, max_entries: 2, entries: {0: t}}", "prog_array", 4, 2),
    "lk": ("{type: array, value_size: 16, max_entries: 2, spin_lock: 8}", "array", 16, 2),
}
#: Share of cases that get a fragment reading a map value's address as a number (its own
#: generator too).
OBSERVE_SHARE = 0.3
#: Share of cases that get a spin-lock or dynptr fragment (drawn from a separate generator,
#: so the other fragments of every seed, and the regression seeds, stay as they were).
LOCK_DYNPTR_SHARE = 0.35
#: First label numbers of the generators after the main one: a program's labels must be
#: distinct (the main generator's stay far below the first of these).
TARGET_LABELS, LOCK_DYNPTR_LABELS, OBSERVE_LABELS, SYSCALL_LABELS = 1000, 2000, 3000, 4000


@dataclass
class Case:
    """One generated bundle: its programs' code and its maps; rendered with initial values."""

    seed: int
    profile: str
    maps: list[str]
    main: list[str]
    target: list[str] | None
    #: Declare account ``a`` (16 bytes): cases calling the account helpers and watchers.
    account: bool = False

    def render(self, inits: dict[str, list[tuple[int, int]]] | None = None) -> str:
        """Return the bundle text, with ``inits`` as the initial contents of the maps."""
        lines = ["arspec: 1", f"profile: {self.profile}", "preset: linux_like"]
        if self.maps:
            lines.append("maps:")
            for name in self.maps:
                lines.append(f"  {name}: {MAPS[name][0]}")
                items = (inits or {}).get(name, [])
                if items:
                    lines[-1] = lines[-1][:-1] + ", init: [" + ", ".join(
                        f"{{key: {k}, value: {v}}}" for k, v in items) + "]}"
        if self.account:
            lines += ["accounts:", "  a: {size: 16}"]
        lines += ["programs:", "  p:", "    hook: {on: every, slots: 1}", "    code: |"]
        lines += [f"      {x}" for x in self.main]
        if self.target is not None:
            lines += ["  t:", "    hook: {on: tail_call}", "    code: |"]
            lines += [f"      {x}" for x in self.target]
        return "\n".join(lines) + "\n"

    def draw_inits(self, rng: random.Random) -> dict[str, list[tuple[int, int]]]:
        """Return random initial contents for the array and hash maps of the case."""
        out: dict[str, list[tuple[int, int]]] = {}
        for name in self.maps:
            _, kind, size, entries = MAPS[name]
            if kind not in ("array", "hash"):
                continue
            keys = rng.sample(range(entries if kind == "array" else 8), rng.randint(0, entries))
            top = (1 << (8 * min(size, 8))) - 1
            out[name] = [(k, rng.choice([0, 1, 2, 3, 7, 8, 15, 16, 255, 4096, top,
                                         rng.randint(0, top)])) for k in sorted(keys)]
        return out


class _Gen:
    """Draws program fragments; labels are numbered so fragments compose freely."""

    def __init__(self, rng: random.Random, maps: list[str]) -> None:
        self.rng = rng
        self.maps = maps
        self.count = 0
        self.functions: list[list[str]] = []
        self.depth = 0

    def label(self) -> str:
        self.count += 1
        return f"l{self.count}"

    def pick(self, *choices: str) -> str:
        return self.rng.choice(choices)

    def width(self) -> tuple[int, str]:
        size = self.rng.choice(sorted(WIDTHS))
        return size, WIDTHS[size]

    # -- fragments ---------------------------------------------------------------------------

    def loop(self) -> list[str]:
        r = self.rng
        head, out = self.label(), self.label()
        reg, bound, step = self.pick("r1", "r2", "r3"), r.choice([0, 1, 3, 17, 40]), r.randint(1, 3)
        w = "w" + reg[1:] if r.random() < 0.3 else reg
        shape = r.randrange(6)
        if shape == 0:  # counted loop
            return [f"{reg} = 0", f"{head}:", f"{w} += {step}", f"if {w} < {bound} goto {head}"]
        if shape == 1:  # condition never changes
            return [f"{reg} = {r.choice([0, 1, 5])}", f"{head}:", "r0 += 1",
                    f"if {reg} != 0 goto {head}"]
        if shape == 2:  # counter that resets
            inner = self.label()
            exit_test = [f"if r4 > {bound} goto {out}"] if r.random() < 0.5 else []
            return ["r4 = 0", f"{reg} = 0", f"{head}:", "r4 += 1", *exit_test,
                    f"{reg} += 1", f"if {reg} < 3 goto {inner}", f"{reg} = 0", f"{inner}:",
                    f"goto {head}", f"{out}:"]
        if shape == 3:  # nested
            inner = self.label()
            return ["r4 = 0", f"{head}:", f"{reg} = 0", f"{inner}:", f"{reg} += 1",
                    f"if {reg} < {bound % 5 + 1} goto {inner}", "r4 += 1",
                    f"if r4 < {r.choice([1, 3, 4])} goto {head}"]
        if shape == 4:  # bound from memory (a map value or the stack)
            return [*self.load_scalar("r5"), f"if r5 > {bound + 8} goto {out}", f"{reg} = 0",
                    f"{head}:", f"{reg} += 1",
                    f"if {reg} {self.pick('<', '<=', '!=')} r5 goto {head}", f"{out}:"]
        return [f"{reg} = {bound}", f"{head}:", f"{w} -= {step}",  # countdown, may wrap
                f"if {w} {self.pick('!=', '>', 's>')} 0 goto {head}"]

    def load_scalar(self, reg: str) -> list[str]:
        """Set ``reg`` to a value the verifier cannot know (a map value byte, or a stack word)."""
        if "vals" in self.maps and self.rng.random() < 0.7:
            skip = self.label()
            _, name = self.width()
            return [*self.lookup("vals", self.rng.randint(0, 4)), f"{reg} = 0",
                    f"if r0 == 0 goto {skip}",
                    f"{reg} = *({name} *)(r0 + {self.rng.choice([0, 8, 24])})", f"{skip}:"]
        return ["*(u64 *)(r10 - 24) = 9", f"{reg} = *(u64 *)(r10 - 24)"]

    def lookup(self, name: str, key: int) -> list[str]:
        return [f"*(u32 *)(r10 - 4) = {key}", "r2 = r10", "r2 += -4", f"r1 = map_idx({name})",
                "call bpf_map_lookup_elem"]

    def map_access(self) -> list[str]:
        if not any(m in self.maps for m in ("vals", "h")):
            return self.stack_access()
        r = self.rng
        name = r.choice([m for m in ("vals", "h") if m in self.maps])
        size = MAPS[name][2]
        out = self.label()
        code = self.lookup(name, r.choice([0, 1, 3, 4, 7]))
        check = r.randrange(6)
        use = "r0"
        if check == 0:
            code.append(f"if r0 == 0 goto {out}")
        elif check == 1:
            code += ["r6 = r0", f"if r6 != 0 goto {self.label()}", f"goto {out}",
                     f"l{self.count}:"]
            use = "r6"
        elif check == 2:
            code += ["r6 = r0", f"if r1 == 0 goto {out}"]  # checks the wrong register
            use = "r6"
        elif check == 3:
            code += ["r6 = r0", "r6 += 0", f"if r0 == 0 goto {out}"]
            use = "r6"
        # check 4, 5: no null check
        width, wname = self.width()
        offset = r.choice([0, 1, size - width, size - width + 1, size, -1, r.randint(0, size)])
        if r.random() < 0.4:  # pointer arithmetic with a bounded or unbounded scalar
            code += [*self.bounded_scalar("r3", size), f"{use} += r3"]
            offset = r.choice([0, width - 1])
        if r.random() < 0.5:
            code.append(f"*({wname} *)({use} {'+' if offset >= 0 else '-'} {abs(offset)}) = 7")
        else:
            code.append(f"r5 = *({wname} *)({use} {'+' if offset >= 0 else '-'} {abs(offset)})")
        return [*code, f"{out}:"]

    def bounded_scalar(self, reg: str, size: int) -> list[str]:
        """``reg`` from memory, bounded with a 64- or 32-bit test or a mask (or not at all)."""
        r = self.rng
        code = ["*(u64 *)(r10 - 16) = " + str(r.choice([0, 3, size, -1, 0x7FFFFFFF])),
                f"{reg} = *(u64 *)(r10 - 16)"] if r.random() < 0.5 else self.load_scalar(reg)
        skip = self.label()
        how = r.randrange(5)
        limit = r.choice([size - 1, size, size - 8, 7])
        if how == 0:
            code += [f"if {reg} > {limit} goto {skip}"]
        elif how == 1:
            code += [f"if w{reg[1:]} > {limit} goto {skip}"]  # 32-bit bound, 64-bit use
        elif how == 2:
            code += [f"{reg} &= {limit}"]
        elif how == 3:
            code += [f"if {reg} s> {limit} goto {skip}"]  # signed bound only
        guard = [f"goto {self.label()}", f"{skip}:", f"{reg} = 0", f"l{self.count}:"]
        return code + (guard if how in (0, 1, 3) else [])

    def stack_access(self) -> list[str]:
        r = self.rng
        _, name = self.width()
        offset = r.choice([-8, -16, -64, -512, -513, -4, 0, 8, -r.randint(1, 520)])
        code = ["r1 = r10", f"r1 += {offset}"]
        if r.random() < 0.4:
            code += [*self.bounded_scalar("r3", 64), "r1 -= r3"]
        if r.random() < 0.6:
            code.append(f"*({name} *)(r1 + 0) = 1")
        if r.random() < 0.7:
            code.append(f"r5 = *({name} *)(r1 + 0)")
        return code

    def arithmetic(self) -> list[str]:
        r = self.rng
        shape = r.randrange(4)
        if shape == 0:
            amount = r.choice([0, 1, 31, 32, 63, 64, 65, 127])
            op = self.pick("<<=", ">>=", "s>>=")
            w = self.pick("r", "w")
            return [f"r1 = {r.choice([1, -1, 0x7fffffff])}", f"r2 = {amount}",
                    f"{w}1 {op} {w}2", f"{w}1 {op} {r.randint(0, 31)}"]
        if shape == 1:
            skip = self.label()
            zero_check = [f"if r2 == 0 goto {skip}"] if r.random() < 0.5 else []
            op = self.pick("/=", "%=", "s/=", "s%=")
            scalar = self.load_scalar("r2")
            dividend = r.choice(["7", "-1", "0x8000000000000000 ll"])
            return [*scalar, f"r1 = {dividend}", *zero_check, f"r1 {op} r2", f"{skip}:"]
        if shape == 2:
            return [f"w1 = {r.choice([-1, 0, 7])}", "r2 = r1", "r2 += 1",
                    f"if r2 {self.pick('>', '<', '==')} {r.choice([0, 1, 0x7FFFFFFF])} goto "
                    f"{self.label()}", "r0 += 1", f"l{self.count}:"]
        return ["r1 = 5", "r1 -= 6", "w2 = w1", "r3 = r1", "r3 s>>= 63", "r0 += r3"]

    def wrong_helper(self) -> list[str]:
        """A map helper given each kind of first argument: a map of any type or no map."""
        r = self.rng
        helper = r.choice(["bpf_map_lookup_elem", "bpf_map_update_elem", "bpf_map_delete_elem",
                           "bpf_ringbuf_output", "bpf_ringbuf_query", "bpf_map_push_elem",
                           "bpf_map_pop_elem", "bpf_map_peek_elem", "bpf_ringbuf_reserve"])
        kind = r.randrange(5)
        if kind == 0 and self.maps:
            first = [f"r1 = map_idx({r.choice(self.maps)})"]
        elif kind == 1 and "vals" in self.maps:
            first = ["r1 = map_idx_value(vals)"]
        elif kind == 2:
            first = ["r1 = r10", "r1 += -32"]
        else:
            first = [f"r1 = {r.choice([0, 1, 4096])}"]
        size = r.choice([0, 4, 8, 16, 600])
        code = ["*(u64 *)(r10 - 32) = 0", "*(u64 *)(r10 - 24) = 0", *first, "r2 = r10",
                "r2 += -32", "r3 = r10", "r3 += -24", "r4 = 0"]
        if helper == "bpf_ringbuf_output":
            code += [f"r3 = {size}"]
        if helper == "bpf_ringbuf_reserve":
            code += [f"r2 = {r.choice([8, 16])}", "r3 = 0", f"call {helper}",
                     f"if r0 == 0 goto {self.label()}", "r1 = r0", "r2 = 0",
                     "call bpf_ringbuf_discard", f"l{self.count}:"]
            return code
        return [*code, f"call {helper}"]

    def ring(self) -> list[str]:
        if "ring" not in self.maps:
            return self.stack_access()
        r = self.rng
        skip = self.label()
        size = r.choice([8, 16])
        code = ["r1 = map_idx(ring)", f"r2 = {size}", "r3 = 0", "call bpf_ringbuf_reserve"]
        if r.random() < 0.8:
            code.append(f"if r0 == 0 goto {skip}")
        code.append(f"*(u64 *)(r0 + {r.choice([0, 8, size - 4, size])}) = 1")
        ends = r.randrange(4)
        if ends in (0, 1):
            code += ["r1 = r0", "r2 = 0",
                     "call " + ("bpf_ringbuf_submit" if ends == 0 else "bpf_ringbuf_discard")]
        elif ends == 2:
            code += ["r6 = r0", "r1 = r6", "r2 = 0", "call bpf_ringbuf_submit", "r1 = r6",
                     "r2 = 0", "call bpf_ringbuf_discard"]
        return [*code, f"{skip}:"]

    def queue(self) -> list[str]:
        if "q" not in self.maps:
            return self.arithmetic()
        op = self.pick("bpf_map_push_elem", "bpf_map_pop_elem", "bpf_map_peek_elem")
        code = ["*(u64 *)(r10 - 8) = 5", "r1 = map_idx(q)", "r2 = r10",
                f"r2 += {self.pick('-8', '-4', '-512')}"]
        if op == "bpf_map_push_elem":
            code.append(f"r3 = {self.pick('0', '2')}")
        return [*code, f"call {op}", "r5 = *(u64 *)(r10 - 8)"]

    def tail_call(self) -> list[str]:
        if "progs" not in self.maps:
            return self.loop()
        return ["r1 = r9", "r2 = map_idx(progs)", f"r3 = {self.pick('0', '1', '5')}",
                "call bpf_tail_call"]

    def timer(self) -> list[str]:
        if "vals" not in self.maps:
            return self.map_access()
        out = self.label()
        offset = self.pick("16", "16", "8")
        return [*self.lookup("vals", self.rng.choice([0, 0, 9])), f"if r0 == 0 goto {out}",
                "r6 = r0", "r1 = r6", f"r1 += {offset}", "r2 = map_idx(vals)", "r3 = 0",
                "call bpf_timer_init", "r1 = r6", f"r1 += {offset}", "r2 = code_addr(cb)",
                "call bpf_timer_set_callback", "r1 = r6", f"r1 += {offset}",
                f"r2 = {self.pick('1', '2')}", "r3 = 0", "call bpf_timer_start", f"{out}:"]

    def local_call(self) -> list[str]:
        if self.depth >= 2 or len(self.functions) >= 3:
            return self.arithmetic()
        index = len(self.functions)
        self.functions.append([])
        self.depth += 1
        body = self.fragments(self.rng.randint(1, 3))
        self.depth -= 1
        if self.rng.random() < 0.05:
            body.append(f"call f{index}")  # recursion
        self.functions[index] = [f"f{index}:", "r9 = r1", *body,
                                 f"r0 = {self.pick('0', '1')}", "exit"]
        return ["r1 = r9", f"r2 = {self.rng.randint(0, 9)}", f"call f{index}", "r9 = r7",
                "r7 = r9"]

    def spin_lock(self) -> list[str]:
        r = self.rng
        out = self.label()
        at = r.choices(["8", "4", "0"], [18, 1, 1])[0]
        code = [*self.lookup("lk", r.choice([0, 1, 1, 9]))]
        if r.random() < 0.85:
            code.append(f"if r0 == 0 goto {out}")
        code += ["r6 = r0", "r1 = r6", f"r1 += {at}", "call bpf_spin_lock"]
        inside = r.choices(["rmw", "none", "call", "direct", "nested", "leave"],
                           [10, 3, 1, 1, 1, 1])[0]
        if inside == "rmw":
            code += ["r1 = *(u64 *)(r6 + 0)", "r1 += 1", "*(u64 *)(r6 + 0) = r1"]
        elif inside == "call":
            code.append("call arspec_get_slot")
        elif inside == "direct":
            code.append(r.choice(["r1 = *(u32 *)(r6 + 8)", "*(u32 *)(r6 + 8) = 0",
                                  "r1 = *(u64 *)(r6 + 4)"]))
        elif inside == "nested":
            code += ["r1 = r6", "r1 += 8", "call bpf_spin_lock"]
        elif inside == "leave":
            code += ["r1 = *(u64 *)(r6 + 0)", f"if r1 > 2 goto {out}"]
        if r.random() < 0.92:
            code += ["r1 = r6", f"r1 += {r.choices(['8', at], [9, 1])[0]}",
                     "call bpf_spin_unlock"]
        return [*code, f"{out}:"]

    def dynptr(self) -> list[str]:
        r = self.rng
        fail, done = self.label(), self.label()
        slot = r.choices(["-16", "-24", "-20"], [8, 2, 1])[0]
        ring = "ring" in self.maps and r.random() < 0.7
        code = ["*(u64 *)(r10 - 48) = 3", "*(u64 *)(r10 - 40) = 4"]
        if ring:
            size = r.choice(["8", "16", "24", "var"])
            if size == "var":
                code += ["call arspec_get_slot", "r2 = r0", "r2 &= 31"]
            else:
                code.append(f"r2 = {size}")
            code += ["r1 = map_idx(ring)", f"r3 = {r.choices(['0', '1'], [12, 1])[0]}"]
            helper = "bpf_ringbuf_reserve_dynptr"
        else:
            code += ["r1 = r10", "r1 += -48", f"r2 = {r.choice(['8', '16'])}",
                     f"r3 = {r.choices(['0', '1'], [12, 1])[0]}"]
            helper = "bpf_dynptr_from_mem"
        code += ["r4 = r10", f"r4 += {slot}", f"call {helper}"]
        checked = r.random() < 0.7
        if checked:
            code.append(f"if r0 != 0 goto {fail}")
        for _ in range(r.randint(0, 2)):
            op = r.choice(["write", "read", "data", "overwrite"] if r.random() < 0.1
                          else ["write", "read", "data"])
            if op == "write":
                code += ["r1 = r10", f"r1 += {slot}", f"r2 = {r.choice(['0', '8', '20'])}",
                         "r3 = r10", "r3 += -48", "r4 = 8", "r5 = 0", "call bpf_dynptr_write"]
            elif op == "read":
                code += ["r1 = r10", "r1 += -40", "r2 = 8", "r3 = r10", f"r3 += {slot}",
                         f"r4 = {r.choice(['0', '4', '16'])}", "r5 = 0", "call bpf_dynptr_read"]
            elif op == "data":
                skip = self.label()
                code += ["r1 = r10", f"r1 += {slot}", f"r2 = {r.choice(['0', '8'])}",
                         f"r3 = {r.choice(['4', '8'])}", "call bpf_dynptr_data"]
                if r.random() < 0.8:
                    code.append(f"if r0 == 0 goto {skip}")
                code += [f"*(u32 *)(r0 + {r.choice(['0', '4', '8'])}) = 1", f"{skip}:"]
            else:
                code.append(f"*(u64 *)(r10 {slot.replace('-', '- ')}) = 0")
        end = r.choices(["submit", "discard", "none", "twice"], [10, 3, 1, 1])[0] \
            if ring else r.choices(["none", "submit"], [12, 1])[0]
        release = ["r1 = r10", f"r1 += {slot}", "r2 = 0",
                   "call bpf_ringbuf_" + ("discard" if end == "discard" else "submit")
                   + "_dynptr"]
        if end != "none":
            code += release * (2 if end == "twice" else 1)
        code.append(f"goto {done}")
        code.append(f"{fail}:")
        if ring and r.random() < 0.85:
            code += ["r1 = r10", f"r1 += {slot}", "r2 = 0", "call bpf_ringbuf_discard_dynptr"]
        return [*code, f"{done}:"]

    def observe_pointer(self) -> list[str]:
        """A map value's address read as a number: shifted, masked, spilled and reloaded,
        compared with another lookup's, or passed as a helper's number argument.

        The verifier's object regions start at ``0x1000`` and the runtime's at
        ``FIRST_DYNAMIC_REGION``, so a test of the region number (``K``, near the verifier's)
        goes one way in the verifier and the other at run time, where a load through a small
        number faults.
        """
        r = self.rng
        out = self.label()
        key = r.randrange(4)
        region = r.choice([0x1000, 0x1001, 0x1002, 5, 6])
        code = [*self.lookup("vals", key), f"if r0 == 0 goto {out}"]
        fault = ["r1 = *(u8 *)(r1 + 0)"]
        shape = r.randrange(6)
        if shape == 0:  # the region number, compared
            code += ["r1 = r0", "r1 >>= 32", f"if r1 == {region} goto {out}", *fault]
        elif shape == 1:  # the region number as an offset added to the pointer
            code += ["r1 = r0", "r1 >>= 32", f"r1 -= {region}", "r2 = r0", "r2 += r1",
                     "r3 = *(u8 *)(r2 + 0)"]
        elif shape == 2:  # a mask
            code += ["r1 = r0", "r2 = 0xffffffff00000000 ll", "r1 &= r2",
                     f"r2 = {region << 32:#x} ll", f"if r1 == r2 goto {out}", "r1 >>= 32",
                     *fault]
        elif shape == 3:  # a spill and its reload (a number at run time)
            code += ["*(u64 *)(r10 - 56) = r0", "r1 = *(u64 *)(r10 - 56)", "r1 >>= 32",
                     f"if {self.pick('r1', 'w1')} == {region} goto {out}", *fault]
        elif shape == 4:  # two lookups' addresses compared
            code += ["r6 = r0", *self.lookup("vals", r.randrange(4)), f"if r0 == 0 goto {out}",
                     f"if r6 {self.pick('<', '>', '==', '!=')} r0 goto {out}", "r1 = r6",
                     "r1 >>= 32", *fault]
        else:  # a number argument of a helper
            code += ["r3 = r0", "r4 = r0", "r4 >>= 32", f"r4 -= {region}",
                     "*(u32 *)(r10 - 4) = 0", "r2 = r10", "r2 += -4", "r1 = map_idx(vals)",
                     "call bpf_map_update_elem", f"if r0 == 0 goto {out}", "r1 = 0", *fault]
        return [*code, f"{out}:"]

    def fragments(self, count: int) -> list[str]:
        makers = [self.loop, self.map_access, self.stack_access, self.arithmetic,
                  self.wrong_helper, self.ring, self.queue, self.tail_call, self.timer,
                  self.local_call]
        weights = [5, 5, 3, 3, 2, 2, 1, 1, 1, 3]
        out: list[str] = []
        for maker in self.rng.choices(makers, weights, k=count):
            out += maker()
        return out


class _SyscallGen(_Gen):
    """Draws calls of the solana call table: Agave syscalls with good and bad arguments,
    run-time watchers, and the sol_* aliases of the other fragments."""

    def pointer(self) -> str:
        return self.pick("r10 - 8", "r10 - 16", "r10 - 12", "r10 - 40", "r10 - 64", "r10 - 44",
                         "r10 + 0", "64", "r10 - 4")

    def set_pointer(self, reg: str) -> list[str]:
        where = self.pointer()
        if where.startswith("r10"):
            return [f"{reg} = r10", f"{reg} += {where[4:].replace(' ', '')}"]
        return [f"{reg} = {where}"]

    def size(self, reg: str) -> list[str]:
        if self.rng.random() < 0.2:
            return [*self.bounded_scalar(reg, 16)]
        return [f"{reg} = {self.rng.choice([0, 1, 4, 8, 16, 24, 40, 600])}"]

    def syscall(self) -> list[str]:
        r = self.rng
        kind = r.randrange(12)
        if kind == 0:  # sol_log_: known text (UTF-8 or not), or unknown bytes
            text = r.choice([0x6b6f, 0x41ff, 0x2121212121, 0xc3a9])
            return [f"*(u64 *)(r10 - 40) = {text & 0x7fffffff}", *self.set_pointer("r1"),
                    *self.size("r2"), "call sol_log_"]
        if kind == 1:
            return [f"r{i} = {r.randint(0, 9)}" for i in range(1, 6) if r.random() < 0.9] \
                + ["call sol_log_64_"]
        if kind == 2:
            return ["call sol_log_compute_units_"]
        if kind == 3:
            return [*self.set_pointer("r1"), "call sol_log_pubkey"]
        if kind == 4:  # memcpy / memmove / memset, then a division by what was written
            name = self.pick("sol_memcpy_", "sol_memmove_", "sol_memset_")
            skip = self.label()
            second = ["r2 = " + str(r.choice([0, 7, 0x100]))] if name == "sol_memset_" \
                else self.set_pointer("r2")
            return ["*(u64 *)(r10 - 16) = " + str(r.choice([0, 3])), *self.set_pointer("r1"),
                    *second, *self.size("r3"), f"call {name}", "r2 = *(u64 *)(r10 - 8)",
                    "r1 = 100", f"if r2 == 0 goto {skip}" if r.random() < 0.5 else "r0 += 0",
                    "r1 /= r2", f"{skip}:"]
        if kind == 5:
            return [*self.set_pointer("r1"), *self.set_pointer("r2"), *self.size("r3"),
                    *self.set_pointer("r4"), "call sol_memcmp_"]
        if kind == 6:  # hashes and log_data over one slice
            name = self.pick("sol_sha256", "sol_keccak256", "sol_log_data")
            return ["r1 = r10", "r1 += -8", "*(u64 *)(r10 - 64) = r1",
                    f"*(u64 *)(r10 - 56) = {r.choice([0, 8, 64])}", "r1 = r10", "r1 += -64",
                    f"r2 = {r.choice([0, 1, 2])}", *self.set_pointer("r3"), f"call {name}"]
        if kind == 7:
            return [*self.set_pointer("r1"), "call sol_get_clock_sysvar",
                    "r5 = *(u64 *)(r10 - 40)"]
        if kind == 8:  # a failing syscall on one path
            skip = self.label()
            name = self.pick("abort", "sol_panic_")
            return [*self.load_scalar("r5"), f"if r5 != 3 goto {skip}", "r1 = r10",
                    "r1 += -8", "r2 = 4", "r3 = 1", "r4 = 2", f"call {name}", f"{skip}:"]
        if kind in (9, 10):  # register a watcher (good or bad criteria), write the account
            op, width = r.choice([4, 6, 7, 9]), r.choice([8, 8, 4, 3])
            value = 0 if op in (6, 7) and r.random() < 0.8 else r.choice([0, 5, 150])
            bps = 100 if op == 7 and r.random() < 0.8 else 0
            code = [f"r1 = {r.choice([0, 0, 1, 1 << 32])} ll", "*(u64 *)(r10 - 24) = r1",
                    f"r1 = {op | width << 8 | bps << 32} ll", "*(u64 *)(r10 - 16) = r1",
                    f"*(u64 *)(r10 - 8) = {value}", "r1 = r10", "r1 += -24",
                    f"r2 = {r.choice([24, 24, 16, 32])}",
                    "r3 = " + self.pick("code_addr(cb)", "code_addr(cb)", "12345"),
                    f"r4 = {r.choice([0, 0, 1])}", "call sol_watch_account"]
            if r.random() < 0.7:
                code += ["*(u64 *)(r10 - 32) = 7", "r1 = 0", "r2 = 0", "r3 = r10",
                         "r3 += -32", "r4 = 8", "call arspec_account_write"]
            return code
        return [f"r1 = {r.choice([0, 1, 2])}", "call sol_unwatch_account"]


#: The sol_* names of the helpers the other fragments call (whole call lines: the dynptr
#: helpers ``bpf_ringbuf_reserve_dynptr`` etc. have no ``sol_*`` name).
SOL_RENAMES = tuple((f"call bpf_{name}", f"call sol_{name}") for name in (
    "ringbuf_reserve", "ringbuf_submit", "ringbuf_discard", "ringbuf_output", "timer_init",
    "timer_set_callback", "timer_start", "timer_cancel", "tail_call"))


def add_solana_calls(case: Case) -> Case:
    """Give a ``solana`` case calls of the solana call table, from a second random stream
    (cases of other seeds, and the rest of this one, stay as they were drawn)."""
    if case.profile != "solana":
        return case
    # The same stream as the lock/dynptr fragment of generate_case (kept so that the solana
    # cases of every seed stay as they were); labels numbered apart from that fragment's.
    rng = random.Random(case.seed * 7919 + 17)
    if rng.random() < 0.2:
        return Case(case.seed, case.profile, case.maps, to_sbpf_v0(case.main),
                    None if case.target is None else to_sbpf_v0(case.target))
    gen = _SyscallGen(rng, case.maps)
    gen.count = SYSCALL_LABELS
    calls = ["*(u64 *)(r10 - 8) = 0", "*(u64 *)(r10 - 16) = 0", "*(u64 *)(r10 - 24) = 0",
             "*(u64 *)(r10 - 32) = 0", "*(u64 *)(r10 - 40) = 0"]
    for _ in range(rng.randint(1, 3)):
        calls += gen.syscall()
    main = [*case.main[:2], *calls, *case.main[2:]]
    if rng.random() < 0.5:
        renames = dict(SOL_RENAMES)
        main = [renames.get(line, line) for line in main]
    # The solana profile loads SBPFv0, which has no JMP32 class and no signed division.
    target = None if case.target is None else to_sbpf_v0(case.target)
    return Case(case.seed, case.profile, case.maps, to_sbpf_v0(main), target, account=True)


def to_sbpf_v0(code: list[str]) -> list[str]:
    """Return ``code`` with 32-bit jumps made 64-bit and signed divisions unsigned."""
    out = []
    for line in code:
        line = re.sub(r"^if w(\d+) ", r"if r\1 ", line)
        out.append(line.replace(" s/= ", " /= ").replace(" s%= ", " %= "))
    return out


def generate_case(seed: int) -> Case:
    """Return the bundle of ``seed`` (deterministic)."""
    rng = random.Random(seed)
    maps = [m for m in MAPS if m != "lk" and rng.random() < 0.6]
    gen = _Gen(rng, maps)
    body = gen.fragments(rng.randint(1, 5))
    extra = random.Random(seed * 7919 + 17)
    if extra.random() < LOCK_DYNPTR_SHARE:
        # Its own generator: the draws above, and so every earlier seed's other fragments,
        # are unchanged.
        lock = extra.random() < 0.5
        if lock:
            maps.append("lk")
        side = _Gen(extra, maps)
        side.count = LOCK_DYNPTR_LABELS
        body += side.spin_lock() if lock else side.dynptr()
    drawn = list(maps)  # the tail-call target below draws from these, as before
    observer = random.Random(seed * 104729 + 31)
    if observer.random() < OBSERVE_SHARE:
        if "vals" not in maps:
            maps.insert(0, "vals")
        side = _Gen(observer, maps)
        side.count = OBSERVE_LABELS
        body += side.observe_pointer()
    main = ["r9 = r1", "r7 = r1", *body]
    ending = rng.random()
    if ending < 0.9:
        main += [f"r0 = {rng.choice([0, 1])}", "exit"]
    elif ending < 0.95:
        main += ["exit"]  # r0 may be uninitialised
    # else: falls off the end of the main function
    for function in gen.functions:
        main += function
    main += ["cb:", "r0 = 0", "exit"]
    target = None
    if "progs" in maps:
        other = _Gen(rng, [m for m in drawn if m not in ("progs", "lk")])
        other.count = TARGET_LABELS
        maker = rng.choice([other.loop, other.map_access, other.stack_access, other.arithmetic])
        target = ["r0 = 0", *maker(), "r0 = 0", "exit"]
    profile = "linux" if rng.random() < 0.8 else "solana"
    return add_solana_calls(Case(seed, profile, maps, main, target))


@dataclass
class Outcome:
    """What checking one case found."""

    seed: int
    seconds: float
    load_error: str | None = None
    exit_code: int | None = None
    verdicts: dict[Verdict, int] = field(default_factory=dict)
    refuted: int = 0
    unsound: list[str] = field(default_factory=list)


def _fault_property(fault: str) -> Property | None:
    for text, prop in FAULT_PROPERTY:
        if fault.startswith(text):
            return prop
    return None


def _check_runs(result: BundleResult, report: RunReport, outcome: Outcome) -> None:
    reports = {p.name: p for p in result.programs}
    for slot in report.slots:
        for event in slot.events:
            if event.kind != "run" or event.program not in reports:
                continue
            first = reports[event.program]
            # A tail-call chain is one event of its first program; a fault is the last one's,
            # except a record still held when the chain ends, which any link may have taken.
            chain = [first, *(reports[n] for n in event.tail_calls if n in reports)]
            held = event.fault is not None and any(
                word in event.fault for word in ("reservation", "dynptr", "spin_unlock is"))
            blamed = chain if held else chain[-1:]
            if event.fault is not None and not event.fault.startswith(PROGRAM_ERROR):
                prop = _fault_property(event.fault) or (
                    Property.MEMORY if any(word in event.fault for word in (
                        "reservation", "dynptr", "spin_lock", "spin_unlock")) else None)
                for last in blamed:
                    verdicts = last.report.verdicts
                    if not (all(verdicts[p] is Verdict.PROVED for p in SAFETY) or (
                            prop is not None and verdicts[prop] is Verdict.PROVED)):
                        break
                else:
                    outcome.unsound.append(f"{blamed[-1].name}: PROVED but the runtime "
                                           f"faulted: {event.fault}")
            if first.report.verdict(Property.COMPUTE) is Verdict.PROVED \
                    and event.used is not None:
                bound = first.chain_cu if event.tail_calls else first.report.worst_case_cu
                if bound is None or event.used > bound:
                    outcome.unsound.append(f"{first.name}: compute PROVED at {bound} CU "
                                           f"but a run used {event.used}")


def check_case(case: Case, workdir: Path, *, timeout: float = 10.0, states: int = 3,
               slots: int = 3) -> Outcome:
    """Verify ``case`` and hold its verdicts to the runtime (see the module docstring)."""
    path = workdir / f"case{case.seed}.yaml"
    text = case.render()
    path.write_text(text, encoding="utf-8")
    start = time.perf_counter()
    try:
        result = verify_bundle(str(path), timeout=timeout)
    except InputError as err:
        return Outcome(case.seed, time.perf_counter() - start, load_error=str(err))
    outcome = Outcome(case.seed, time.perf_counter() - start,
                      exit_code=exit_code_of(result.verdict.value))
    for program in result.programs:
        for verdict in program.report.verdicts.values():
            outcome.verdicts[verdict] = outcome.verdicts.get(verdict, 0) + 1
        for finding in program.report.findings:
            if finding.verdict is Verdict.REFUTED:
                outcome.refuted += 1
                if finding.counterexample is None or not finding.counterexample.replayed:
                    outcome.unsound.append(f"REFUTED without a replay: {finding.render()}")
    rng = random.Random(case.seed)
    deterministic = all(p.report.verdict(Property.DETERMINISM) is Verdict.PROVED
                        for p in result.programs)
    for state in range(states):
        variant = case.render(case.draw_inits(rng) if state else None)
        path.write_text(variant, encoding="utf-8")
        try:
            bundle = load_bundle(str(path))
            report = run_bundle(bundle, slots=slots)
        except InputError as err:
            outcome.unsound.append(f"the runtime refused a verified bundle: {err}")
            break
        _check_runs(result, report, outcome)
        if deterministic and state == 0 and run_bundle(bundle, slots=slots) != report:
            outcome.unsound.append("determinism PROVED but two runs differ")
    path.write_text(text, encoding="utf-8")
    return outcome
