"""Soundness of bundle verification against the reference runtime, on random bundles.

Each bundle has an array map with random contents and one program that looks values up,
reads and writes them at computed offsets, and runs a ``bpf_loop`` whose callback does the
same with the loop index and the caller's stack. The verifier's verdicts are then held to
what the real runtime (:class:`~arspec.reference.runtime.runtime.ReferenceInvoker`, the real
helpers, not the replay's stubs) does over a few slots: if every property is PROVED no run
faults, a PROVED compute figure bounds every run's units, and every REFUTED finding carries
a counterexample that replayed.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from arspec.checker.verdict import Property, Verdict
from arspec.checker.verify_bundle import verify_bundle
from arspec.reference.runtime.runner import run_bundle
from arspec.spec.loader import load_bundle

SLOTS = 3
WIDTHS = {1: "u8", 2: "u16", 4: "u32", 8: "u64"}


@st.composite
def accesses(draw: st.DrawFn, label: str, index: str | None) -> list[str]:
    """Fragments that look an element up and touch its value at a computed offset."""
    out: list[str] = []
    keys = ["0", "1", "3", "value"] + ([index] if index is not None else [])
    key = draw(st.sampled_from(keys))
    if key == "value":
        out += ["r1 = *(u64 *)(r10 - 16)", "*(u32 *)(r10 - 4) = r1"]
    else:
        out.append(f"*(u32 *)(r10 - 4) = {key}")
    out += ["r2 = r10", "r2 += -4", "r1 = map_idx(vals)", "call bpf_map_lookup_elem"]
    if draw(st.booleans()) or draw(st.booleans()):
        out.append(f"if r0 == 0 goto {label}")
    if index is not None and draw(st.booleans()):
        shift = draw(st.integers(0, 3))
        out += [f"r3 = {index}", f"r3 <<= {shift}", "r0 += r3"]
    width = draw(st.sampled_from(sorted(WIDTHS)))
    offset = draw(st.integers(0, 24))
    if draw(st.booleans()):
        out.append(f"*({WIDTHS[width]} *)(r0 + {offset}) = 7")
    else:
        out += [f"r4 = *({WIDTHS[width]} *)(r0 + {offset})", "*(u64 *)(r10 - 16) = r4"]
    out.append(f"{label}:")
    return out


@st.composite
def bundles(draw: st.DrawFn) -> str:
    value_size = draw(st.sampled_from([8, 16, 24]))
    entries = draw(st.integers(1, 4))
    init = [f"      - {{key: {k}, value: {draw(st.integers(0, 6))}}}"
            for k in range(entries)]
    main = ["*(u64 *)(r10 - 16) = 0", *draw(accesses("skip_main", None))]
    count = draw(st.integers(0, 5))
    stop = draw(st.integers(0, 6))
    main += [f"r1 = {count}", "r2 = code_addr(cb)", "r3 = r10", "r3 += -16", "r4 = 0",
             "call bpf_loop"]
    if draw(st.booleans()):
        main += ["*(u32 *)(r10 - 4) = r0", "r2 = r10", "r2 += -4", "r1 = map_idx(vals)",
                 "call bpf_map_lookup_elem", "if r0 == 0 goto out", "r1 = *(u8 *)(r0 + 0)"]
    main += ["out:", "r0 = 0", "exit"]
    callback = ["r6 = r1", "r7 = r2", "r1 = *(u64 *)(r7 + 0)", "r1 += r6",
                "*(u64 *)(r7 + 0) = r1", "*(u64 *)(r10 - 16) = r1",
                *draw(accesses("skip_cb", "r6")),
                "r0 = 0", f"if r6 != {stop} goto next", "r0 = 1", "next:", "exit"]
    code = "\n".join("      " + line for line in [*main, "cb:", *callback])
    profile = draw(st.sampled_from(["linux", "solana"]))
    return (f"arspec: 1\nprofile: {profile}\npreset: linux_like\nmaps:\n"
            f"  vals:\n    type: array\n    value_size: {value_size}\n"
            f"    max_entries: {entries}\n    init:\n" + "\n".join(init) +
            "\nprograms:\n  p:\n    hook: {on: every, slots: 1}\n    code: |\n" + code + "\n")


@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
@given(text=bundles())
def test_bundle_verdicts_hold_on_the_runtime(text: str,
                                             tmp_path_factory: pytest.TempPathFactory) -> None:
    path = tmp_path_factory.mktemp("b") / "bundle.yaml"
    path.write_text(text)
    result = verify_bundle(str(path), timeout=120)
    report = result.programs[0].report
    runs = [e for slot in run_bundle(load_bundle(str(path)), slots=SLOTS).slots
            for e in slot.events if e.kind == "run"]
    assert runs
    safe = all(report.verdict(p) is Verdict.PROVED for p in
               (Property.TERMINATION, Property.MEMORY, Property.DIVISION, Property.CONTROL,
                Property.COMPUTE))
    if safe:
        assert all(e.fault is None for e in runs), (text, [e.fault for e in runs])
    if report.verdict(Property.COMPUTE) is Verdict.PROVED:
        assert report.worst_case_cu is not None
        assert all(e.used is not None and e.used <= report.worst_case_cu for e in runs), (
            text, report.worst_case_cu, [e.used for e in runs])
    for finding in report.findings:
        if finding.verdict is Verdict.REFUTED:
            assert finding.counterexample is not None and finding.counterexample.replayed
    faulted = [e.fault for e in runs if e.fault is not None]
    if faulted and report.verdict(Property.MEMORY) is not Verdict.REFUTED:
        # A fault the runtime shows must not be one the verifier PROVED impossible.
        assert not safe
