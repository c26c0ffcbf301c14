"""Every bundle the soundness campaign generates loads, and the loader still refuses the
defects the generator used to make (a load error tests no verdict, so it hid the seed).

Loading here is what :func:`~arspec.checker.verify_bundle.verify_bundle` does before it
verifies: the schema and the assembler (:func:`~arspec.spec.loader.load_bundle`), then the
profile's loader (:func:`~arspec.reference.runtime.runtime.load_programs`).
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

import campaign

from arspec.reference.runtime.runtime import load_programs
from arspec.spec.errors import InputError
from arspec.spec.loader import load_bundle

#: Seeds whose bundles did not load before the generator was fixed: 96152 and 96223 (a
#: duplicate label: the syscall and lock/dynptr fragments both numbered theirs from 2000),
#: 96000, 96079, 96100, 96162 (a JMP32 jump in a solana case), 96178 and 96214 (the same in
#: the tail-call target); 95062 (``sol_ringbuf_submit_dynptr``, a renamed dynptr helper);
#: 7039 (a signed division in a solana case).
ONCE_REFUSED = (96000, 96079, 96100, 96152, 96162, 96178, 96214, 96223, 95062, 7039)


def _load(case: campaign.Case, tmp_path: Path) -> None:
    path = tmp_path / f"case{case.seed}.yaml"
    path.write_text(case.render(), encoding="utf-8")
    load_programs(load_bundle(str(path)), base_dir=tmp_path, allow_nondeterministic=True)


def test_a_fixed_sample_of_generated_bundles_all_load(tmp_path: Path) -> None:
    refused = []
    for seed in (*range(96_000, 96_300), *ONCE_REFUSED):
        try:
            _load(campaign.generate_case(seed), tmp_path)
        except InputError as err:
            refused.append(f"seed {seed}: {err}")
    assert refused == []


def test_the_once_refused_seeds_still_draw_what_was_refused() -> None:
    # The fixes changed how these seeds are written, not what they draw.
    lines = {seed: [line.strip() for line in campaign.generate_case(seed).render().splitlines()]
             for seed in ONCE_REFUSED}
    assert {"l2001:", "l4001:"} <= set(lines[96152])
    assert {"l2001:", "l4001:"} <= set(lines[96223])
    assert "call bpf_ringbuf_submit_dynptr" in lines[95062]
    # Made SBPFv0 code: a 32-bit jump 64-bit, a signed division unsigned.
    assert "r1 %= r2" in lines[7039] and "if r3 < 17 goto l4" in lines[7039]
    assert "if r1 s> 0 goto l7" in lines[96000]
    assert "if r3 > 63 goto l1001" in lines[96178]


def _solana(main: list[str], target: list[str] | None = None) -> campaign.Case:
    return campaign.Case(1, "solana", ["progs"] if target else [], main, target)


def test_the_loader_refuses_a_duplicate_label(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    # The old numbering: the syscall fragment's labels from where the dynptr fragment's start.
    monkeypatch.setattr(campaign, "SYSCALL_LABELS", campaign.LOCK_DYNPTR_LABELS)
    with pytest.raises(InputError, match="duplicate label 'l2001'"):
        _load(campaign.generate_case(96152), tmp_path)


@pytest.mark.parametrize("line, refused", [
    ("if w1 > 3 goto l1", "SBPFv0 has no JMP32 class"),
    ("if w1 s< 3 goto l1", "SBPFv0 has no JMP32 class"),
    ("r1 s/= 3", "SBPFv0 has no signed division"),
    ("r1 s%= r2", "SBPFv0 has no signed division"),
])
def test_the_solana_loader_refuses_what_sbpf_v0_lacks(line: str, refused: str,
                                                      tmp_path: Path) -> None:
    code = ["r1 = 7", "r2 = 2", line, "l1:", "r0 = 0", "exit"]
    with pytest.raises(InputError, match=f"programs.p: pc 2: .*{refused}"):
        _load(_solana(code), tmp_path)
    with pytest.raises(InputError, match=f"programs.t: pc 2: .*{refused}"):
        _load(_solana(["r0 = 0", "exit"], code), tmp_path)
    _load(_solana(campaign.to_sbpf_v0(code)), tmp_path)


@pytest.mark.parametrize("helper", ["reserve_dynptr", "submit_dynptr", "discard_dynptr"])
def test_the_loader_refuses_a_sol_name_for_a_dynptr_helper(helper: str,
                                                           tmp_path: Path) -> None:
    with pytest.raises(InputError, match=f"unknown helper 'sol_ringbuf_{helper}'"):
        _load(_solana([f"call sol_ringbuf_{helper}", "r0 = 0", "exit"]), tmp_path)


def test_a_generated_solana_case_renames_whole_call_lines_only() -> None:
    renames = dict(campaign.SOL_RENAMES)
    assert "call bpf_ringbuf_reserve_dynptr" not in renames
    renamed = [campaign.generate_case(seed) for seed in (*range(96_000, 96_300), 95062)]
    lines = [line for case in renamed for line in case.main]
    assert not any(line.startswith("call sol_ringbuf_") and line.endswith("_dynptr")
                   for line in lines)


def test_every_solana_case_is_sbpf_v0_code() -> None:
    for seed in range(96_000, 96_300):
        case = campaign.generate_case(seed)
        if case.profile != "solana":
            continue
        for line in (*case.main, *(case.target or ())):
            assert not line.startswith("if w"), (seed, line)
            assert " s/= " not in line and " s%= " not in line, (seed, line)
