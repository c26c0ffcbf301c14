"""The bundle path and the single-program path decide every corpus program alike.

Every program case of the corpus (``corpus/*.yaml``) that calls no helper (helper ids of the
conformance registry mean other helpers in a bundle) is verified twice with the same entry
state, an empty input: by :func:`~arspec.checker.verifier.verify_program` with
``max_input=0``, and by :func:`~arspec.checker.verify_bundle.verify_bundle` as the only
program of a bundle run every slot. Property by property, a verdict one path decides
(``PROVED`` or ``REFUTED``) is the other path's verdict too. A program the profile's loader
refuses (SBPFv0's signed division, say) is a ``REFUTED`` load finding on the single-program
path; the runtime loads a bundle's programs with the same check, so the bundle path refuses
the whole bundle as bad input, naming the same reason.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from arspec.checker.verdict import Property, Verdict
from arspec.checker.verifier import verify_program
from arspec.checker.verify_bundle import verify_bundle
from arspec.reference.isa.assembler import assemble
from arspec.reference.isa.instructions import Call
from arspec.reference.vm.profiles import get_profile
from arspec.spec.errors import InputError

CORPUS = Path(__file__).parent / "corpus"
DECIDED = (Verdict.PROVED, Verdict.REFUTED)


def _cases() -> list[Any]:
    params = []
    for path in sorted(CORPUS.glob("*.yaml")):
        for case in yaml.safe_load(path.read_text(encoding="utf-8")):
            program = assemble(case["code"])
            if any(isinstance(insn, Call) for _, insn in program.instructions()):
                continue
            params.append(pytest.param(case, id=f"{path.stem}: {case['test-case']}"))
    return params


CASES = _cases()


def _bundle(case: dict[str, Any]) -> str:
    budget = f"    budget: {case['budget']}\n" if "budget" in case else ""
    code = "".join(f"      {line}\n" for line in case["code"].splitlines())
    return (f"arspec: 1\nprofile: {case['profile']}\npreset: linux_like\nprograms:\n  p:\n"
            f"    hook: {{on: every, slots: 1}}\n{budget}    code: |\n{code}")


def test_most_corpus_programs_are_compared() -> None:
    assert len(CASES) >= 80


@pytest.mark.parametrize("case", CASES)
def test_bundle_and_single_program_paths_agree(case: dict[str, Any], tmp_path: Path) -> None:
    extra = {"budget": case["budget"]} if "budget" in case else {}
    single = verify_program(assemble(case["code"]), profile=get_profile(case["profile"]),
                            max_input=0, **extra)
    path = tmp_path / "bundle.yaml"
    path.write_text(_bundle(case), encoding="utf-8")
    refusals = [f for f in single.findings if f.message == "Program rejected at load"]
    if refusals:
        assert [f.verdict for f in refusals] == [Verdict.REFUTED], single.findings
        with pytest.raises(InputError) as raised:
            verify_bundle(str(path), timeout=60)
        assert f"programs.p: pc {refusals[0].pc}: {refusals[0].assertion}" in str(raised.value)
        return
    bundled = verify_bundle(str(path), timeout=60).programs[0].report
    for prop in Property:
        one, two = single.verdict(prop), bundled.verdict(prop)
        if one in DECIDED or two in DECIDED:
            assert one is two, (prop.value, one.value, two.value,
                                [f.render() + " " + f.verdict.value for f in single.findings],
                                [f.render() + " " + f.verdict.value for f in bundled.findings])
