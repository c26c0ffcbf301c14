"""A program that reads an object pointer's numeric value is never PROVED.

The verifier gives map values (and records, key copies) regions of its own choosing
(:data:`arspec.checker.objmemory.OBJECT_REGION` onward); the runtime allocates others. So a
program whose behaviour depends on such an address (shifted, masked, truncated, compared,
spilled and reloaded, passed as a number) may run differently from every run the verifier
followed: no property of it may be PROVED. Null checks and pointer plus or minus a number
keep the runtime's address meaningful and stay PROVED, as do stack and input addresses,
which both sides take from :mod:`arspec.spec.conventions`.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from arspec.checker.objmemory import OBJECT_REGION
from arspec.checker.verdict import Property, Verdict
from arspec.checker.verify_bundle import verify_bundle
from arspec.reference.runtime.runner import run_bundle
from arspec.spec.loader import load_bundle

LOOKUP = """\
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
r1 = map_idx(vals)
call bpf_map_lookup_elem
if r0 == 0 goto out
"""

#: The colleague's reproducer: in the verifier the region number takes the branch to
#: ``out``; in the runtime it does not, and the load through a small number faults.
REPRODUCER = LOOKUP + f"""\
r1 = r0
r1 >>= 32
if r1 == {OBJECT_REGION:#x} goto out
r0 = *(u64 *)(r1 + 0)
out:
r0 = 0
exit
"""

#: Programs that observe the pointer's number (none may be PROVED).
OBSERVING = {
    "shift and compare": REPRODUCER,
    "32-bit truncation": LOOKUP + "w1 = w0\nif w1 == 0 goto out\nr0 = *(u64 *)(r0 + 0)\n"
                         "out:\nr0 = 0\nexit\n",
    "and mask": LOOKUP + "r1 = r0\nr1 &= 0xffff\nif r1 != 0 goto out\nr0 = *(u64 *)(r0 + 0)\n"
                "out:\nr0 = 0\nexit\n",
    "two lookups compared": LOOKUP + "r6 = r0\n*(u32 *)(r10 - 8) = 0\nr2 = r10\nr2 += -8\n"
                            "r1 = map_idx(other)\ncall bpf_map_lookup_elem\n"
                            "if r0 == 0 goto out\nif r0 == r6 goto out\n"
                            "r0 = *(u64 *)(r0 + 0)\nout:\nr0 = 0\nexit\n",
    "spill, reload and compare": LOOKUP + "*(u64 *)(r10 - 16) = r0\nr1 = *(u64 *)(r10 - 16)\n"
                                 "r1 >>= 32\nif r1 > 5 goto out\nr0 = 1\nout:\nr0 = 0\nexit\n",
    "scalar helper argument": LOOKUP + "r3 = r0\nr4 = r0\n*(u32 *)(r10 - 8) = 0\nr2 = r10\n"
                              "r2 += -8\nr1 = map_idx(vals)\ncall bpf_map_update_elem\n"
                              "out:\nr0 = 0\nexit\n",
    "difference of two pointers": LOOKUP + "r1 = r0\nr1 += 8\nr1 -= r0\nout:\nr0 = 0\nexit\n",
    "32-bit null check": LOOKUP + "if w0 == 0 goto out\nr0 = 0\nout:\nr0 = 0\nexit\n",
    "byte swap": LOOKUP + "r1 = r0\nr1 = be64 r1\nout:\nr0 = 0\nexit\n",
    "atomic add of the pointer": LOOKUP + "*(u64 *)(r10 - 16) = 0\n"
                                 "lock *(u64 *)(r10 - 16) += r0\nout:\nr0 = 0\nexit\n",
}

#: Programs that use object pointers only as pointers, or observe agreed addresses.
POINTER_ONLY = {
    "null check and load": LOOKUP + "r1 = *(u64 *)(r0 + 0)\nout:\nr0 = 0\nexit\n",
    "inverted null check": LOOKUP.replace("if r0 == 0 goto out", "if r0 != 0 goto use\n"
                                          "goto out\nuse:") + "r1 = *(u64 *)(r0 + 0)\n"
                                                             "out:\nr0 = 0\nexit\n",
    "null check against a zero register": LOOKUP.replace("if r0 == 0 goto out",
                                                         "r5 = 0\nif r0 == r5 goto out")
                                          + "r1 = *(u64 *)(r0 + 8)\nout:\nr0 = 0\nexit\n",
    "pointer plus an offset": LOOKUP + "r1 = r0\nr1 += 8\nr2 = *(u64 *)(r1 + 0)\nout:\n"
                              "r0 = 0\nexit\n",
    "offset plus a pointer": LOOKUP + "r1 = 8\nr1 += r0\nr2 = *(u64 *)(r1 + 0)\nout:\n"
                             "r0 = 0\nexit\n",
    "pointer minus an offset": LOOKUP + "r1 = r0\nr1 += 12\nr1 -= 4\n"
                               "*(u64 *)(r1 + 0) = 7\nout:\nr0 = 0\nexit\n",
    "store a number through it": LOOKUP + "r1 = 3\n*(u64 *)(r0 + 0) = r1\n"
                                 "lock *(u64 *)(r0 + 8) += r1\nout:\nr0 = 0\nexit\n",
    "pointer as a map value argument": LOOKUP + "r3 = r0\n*(u32 *)(r10 - 8) = 0\nr2 = r10\n"
                                       "r2 += -8\nr1 = map_idx(vals)\nr4 = 0\n"
                                       "call bpf_map_update_elem\nout:\nr0 = 0\nexit\n",
    "stack address shifted": "r1 = r10\nr1 >>= 32\nr0 = 0\nexit\n",
    "input address compared": "r3 = r1\nr3 >>= 32\nif r3 == 0 goto bad\nr0 = 0\nexit\n"
                              "bad:\nr0 = 0\nexit\n",
}


def _bundle(tmp_path: Path, code: str) -> Path:
    body = "".join(f"          {line}\n" for line in code.splitlines())
    path = tmp_path / "bundle.yaml"
    path.write_text(
        "arspec: 1\nprofile: linux\npreset: linux_like\nmaps:\n"
        "  vals: {type: array, value_size: 16, max_entries: 1}\n"
        "  other: {type: array, value_size: 16, max_entries: 1}\n"
        "programs:\n  p:\n    hook: {on: every, slots: 1}\n    code: |\n" + body)
    return path


def _verify(tmp_path: Path, code: str) -> tuple[dict[Property, Verdict], list[str]]:
    result = verify_bundle(str(_bundle(tmp_path, code)), timeout=60)
    report = result.programs[0].report
    return report.verdicts, report.notes


@pytest.mark.parametrize("name", sorted(OBSERVING))
def test_observing_an_object_pointer_proves_nothing(name: str, tmp_path: Path) -> None:
    verdicts, notes = _verify(tmp_path, OBSERVING[name])
    assert Verdict.PROVED not in verdicts.values(), (name, verdicts)
    observed = [n for n in notes if "observes the numeric value" in n]
    assert len(observed) == 1, notes
    assert "object addresses are the runtime's choice" in observed[0]


@pytest.mark.parametrize("name", sorted(POINTER_ONLY))
def test_pointer_uses_stay_proved(name: str, tmp_path: Path) -> None:
    verdicts, notes = _verify(tmp_path, POINTER_ONLY[name])
    assert verdicts[Property.MEMORY] is Verdict.PROVED, (name, verdicts, notes)
    assert all(v is Verdict.PROVED for v in verdicts.values()), (name, verdicts, notes)
    assert not [n for n in notes if "observes" in n]


def test_reproducer_note_names_the_pc(tmp_path: Path) -> None:
    _, notes = _verify(tmp_path, REPRODUCER)
    # pc 8 is ``r1 >>= 32`` (the lookup's lddw takes two slots).
    assert any("at pc 8 (rsh64 on the pointer)" in n for n in notes), notes


def test_reproducer_faults_at_run_time(tmp_path: Path) -> None:
    """The bug is real: the runtime's region differs, and the program faults."""
    path = _bundle(tmp_path, REPRODUCER)
    report = run_bundle(load_bundle(str(path)), slots=1, base_dir=tmp_path)
    assert report.faulted


TIMER_MAIN = """\
*(u32 *)(r10 - 4) = 0
r2 = r10
r2 += -4
r1 = map_idx(vals)
call bpf_map_lookup_elem
if r0 == 0 goto out
r6 = r0
r1 = r6
r1 += 16
r2 = map_idx(vals)
r3 = 0
call bpf_timer_init
r1 = r6
r1 += 16
r2 = code_addr(cb)
call bpf_timer_set_callback
r1 = r6
r1 += 16
r2 = 1
r3 = 0
call bpf_timer_start
out:
r0 = 0
exit
cb:
"""


@pytest.mark.parametrize(("callback", "observes"), [
    (f"r1 = r3\nr1 >>= 32\nif r1 == {OBJECT_REGION:#x} goto ok\nr0 = *(u64 *)(r1 + 0)\n"
     "ok:\nr0 = 0\nexit\n", True),
    ("if r2 == r3 goto ok\nok:\nr0 = 0\nexit\n", True),
    ("r1 = *(u64 *)(r3 + 0)\nr1 = r2\nr1 += 2\nr0 = 0\nexit\n", False),
])
def test_timer_callback_key_and_value(callback: str, observes: bool, tmp_path: Path) -> None:
    """A timer callback's key copy (r2) and value (r3) are object pointers too."""
    body = "".join(f"          {line}\n" for line in (TIMER_MAIN + callback).splitlines())
    path = tmp_path / "bundle.yaml"
    path.write_text("arspec: 1\nprofile: linux\npreset: linux_like\nmaps:\n"
                    "  vals: {type: array, value_size: 32, max_entries: 1, timer: 16}\n"
                    "programs:\n  p:\n    hook: {on: every, slots: 1}\n    code: |\n" + body)
    report = verify_bundle(str(path), timeout=60).programs[0].report
    noted = [n for n in report.notes if "observes the numeric value" in n]
    if observes:
        assert Verdict.PROVED not in report.verdicts.values(), report.verdicts
        assert len(noted) == 1 and noted[0].startswith("entry pc 26:"), report.notes
    else:
        assert report.verified, (report.verdicts, report.notes)
        assert noted == []
