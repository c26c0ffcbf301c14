"""Every catalogue invariant on real bundles, no_starvation on the slot-abstracted graph,
planted faults for the invariants no bundle can break, and every example explored."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from arspec.model.engine import ModelError
from arspec.model.explore_bundle import build_system, explore_verdicts
from arspec.model.runtime_system import CheckSet, RuntimeSystem
from arspec.model.starvation import UNBOUNDED_SLOTS, check_no_starvation
from arspec.spec import bundle as schema
from arspec.spec import scheduler
from arspec.spec.catalogue import get_requested_invariants
from arspec.spec.errors import InputError
from arspec.spec.loader import load_bundle
from tests.outcomes import explore_bundle

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "examples" / "explore"
ATTEMPT = EXAMPLES / "starvation_attempt.yaml"

#: (bundle, invariant, shortest trace length) of the broken examples added for the catalogue.
BROKEN = [
    ("tail_broken", "tail_call_limit", 3),
    ("response_broken", "bounded_response", 9),
    ("vault_broken", "solvent", 6),
]
HOLDING = ["tail_ok", "response_ok", "vault_ok", "ring_ok", "starvation_attempt"]


def path_of(name: str) -> str:
    return str(EXAMPLES / f"{name}.yaml")


@pytest.mark.parametrize(("name", "invariant", "length"), BROKEN)
def test_broken_bundle_violates_with_shortest_trace(name: str, invariant: str,
                                                    length: int) -> None:
    code, text = explore_bundle(path_of(name), reductions=False, timing=False)
    assert code == 1
    assert f"VIOLATED {invariant}:" in text
    assert f"  shortest trace: {length} steps" in text
    assert text.count("VIOLATED ") == 1


@pytest.mark.parametrize("name", HOLDING)
def test_holding_bundle_holds(name: str) -> None:
    code, text = explore_bundle(path_of(name), reductions=False, timing=False)
    assert code == 0, text
    assert "VIOLATED" not in text


@pytest.mark.parametrize("name", [b[0] for b in BROKEN] + HOLDING)
def test_reductions_agree_on_verdicts(name: str) -> None:
    assert explore_verdicts(path_of(name), slots=3, reductions=True) == \
        explore_verdicts(path_of(name), slots=3, reductions=False)


def test_tail_chain_cut_by_the_limit_is_named() -> None:
    _, text = explore_bundle(path_of("tail_broken"), timing=False)
    assert ("entry's tail-call chain (entry > parse > commit > parse) reached the limit 3 "
            "and 1 further tail call(s) fell through") in text


def test_invalid_write_after_submit_is_rolled_back_not_overwritten(tmp_path: Path) -> None:
    text = Path(path_of("ring_ok")).read_text().replace(
        "        r1 = r0\n        r2 = 0\n        call bpf_ringbuf_submit\n",
        "        r6 = r0\n        r1 = r0\n        r2 = 0\n        call bpf_ringbuf_submit\n"
        "        *(u64 *)(r6 + 0) = 7\n", 1)
    path = tmp_path / "ring.yaml"
    path.write_text(text)
    verdicts = explore_verdicts(str(path), slots=2, reductions=False)
    assert verdicts["ringbuf_fifo"] == "HOLDS"
    # The store faults (the record's region is released): nothing is ever delivered.
    assert explore_verdicts(str(path), slots=2, reductions=True) == verdicts


# --------------------------------------------------------------------------- planted faults


def planted_verdicts(monkeypatch: pytest.MonkeyPatch, name: str, target: str,
                     replacement: object) -> dict[str, str]:
    monkeypatch.setattr(scheduler, target, replacement)
    return explore_verdicts(path_of(name), slots=2, reductions=False)


def test_invalid_consumer_delivering_in_reverse_is_caught(
        monkeypatch: pytest.MonkeyPatch) -> None:
    original = scheduler.process_ringbuf_consume

    def reverse(ring):  # type: ignore[no-untyped-def]
        return list(reversed(original(ring)))

    verdicts = planted_verdicts(monkeypatch, "ring_ok", "process_ringbuf_consume", reverse)
    assert verdicts["ringbuf_fifo"] == "VIOLATED"


def test_invalid_consumer_delivering_twice_is_caught(monkeypatch: pytest.MonkeyPatch) -> None:
    original = scheduler.process_ringbuf_consume

    def twice(ring):  # type: ignore[no-untyped-def]
        records = original(ring)
        return records + records[:1]

    verdicts = planted_verdicts(monkeypatch, "ring_ok", "process_ringbuf_consume", twice)
    assert verdicts["ringbuf_fifo"] == "VIOLATED"


def test_invalid_consumer_that_skips_positions_is_caught(
        monkeypatch: pytest.MonkeyPatch) -> None:
    original = scheduler.process_ringbuf_consume

    def lossy(ring):  # type: ignore[no-untyped-def]
        return original(ring)[1:]

    verdicts = planted_verdicts(monkeypatch, "ring_ok", "process_ringbuf_consume", lossy)
    assert verdicts["ringbuf_fifo"] == "VIOLATED"


def test_invalid_schema_letting_per_slot_below_a_budget_breaks_progress(tmp_path: Path) -> None:
    bundle = load_bundle(path_of("response_ok"))
    broken = bundle.model_copy(update={"budgets": schema.Budgets.model_construct(
        per_invocation=3000, per_slot=2000)})
    from arspec.model.engine import explore

    system = build_system(broken, path_of("response_ok"), 2, CheckSet(("progress",)),
                          cache=False)
    states, transitions = system.build_invariants()
    result = explore(system, invariants=states, transition_invariants=transitions,
                     stop_at_first_violation=False)
    assert result.verdict_of("progress").value == "VIOLATED"
    violation = result.violations[0]
    assert violation.invariant == "progress" and len(violation.trace) == 1


def overtaking_scheduler(monkeypatch: pytest.MonkeyPatch) -> None:
    """Plant a scheduler that runs the newest item that fits instead of the head."""
    original_run = scheduler.process_run_head

    def fits(state, config):  # type: ignore[no-untyped-def]
        remaining = scheduler.get_remaining_cu(state, config)
        return [i for i, item in enumerate(state.fifo)
                if scheduler.get_item_budget(config, item) <= remaining]

    def runnable(state, config):  # type: ignore[no-untyped-def]
        return state.phase == scheduler.Phase.RUN and bool(fits(state, config))

    def run_newest(state, config, invoker):  # type: ignore[no-untyped-def]
        state.fifo.insert(0, state.fifo.pop(fits(state, config)[-1]))
        return original_run(state, config, invoker)

    monkeypatch.setattr(scheduler, "is_head_runnable", runnable)
    monkeypatch.setattr(scheduler, "process_run_head", run_newest)


def test_invalid_overtaking_scheduler_starves_the_work_item(
        monkeypatch: pytest.MonkeyPatch) -> None:
    overtaking_scheduler(monkeypatch)
    code, text = explore_bundle(str(ATTEMPT), reductions=False, timing=False)
    assert code == 1
    assert "VIOLATED no_starvation: setup (work queue jobs[0], queued in slot 0) " \
           "stays queued forever on a weakly fair run" in text
    assert "  lasso: prefix 4 steps, then cycle 6 steps (marked *) forever" in text
    assert "    4     1     watch FIFO item 0\n" in text
    assert text.endswith("verdict: VIOLATED\n")


def test_invalid_overtaking_scheduler_lasso_is_a_fair_cycle(
        monkeypatch: pytest.MonkeyPatch) -> None:
    overtaking_scheduler(monkeypatch)
    bundle = load_bundle(ATTEMPT)
    system = build_system(bundle, str(ATTEMPT), UNBOUNDED_SLOTS, CheckSet(), cache=False)
    outcome = check_no_starvation(system)
    assert outcome.verdict.value == "VIOLATED" and outcome.lasso is not None
    cycle = outcome.lasso.cycle
    labels = {step.label for step in cycle}
    assert {"run head", "end slot", "enqueue due work"} <= labels
    # The cycle returns to the abstract state it left, with the watched item still queued.
    assert cycle[-1].state.key == outcome.lasso.prefix.final.key
    assert all(step.state.watched is not None for step in cycle)


def test_strict_fifo_cannot_starve_and_reductions_agree() -> None:
    on = explore_verdicts(str(ATTEMPT), slots=3, reductions=True)
    assert on["no_starvation"] == "HOLDS"
    assert on == explore_verdicts(str(ATTEMPT), slots=3, reductions=False)


# --------------------------------------------------------------------------- soundness limits


def starvation_text(tmp_path: Path, old: str, new: str, code: int = 3) -> str:
    path = tmp_path / "b.yaml"
    path.write_text(ATTEMPT.read_text().replace(old, new, 1))
    got, text = explore_bundle(str(path), reductions=False, timing=False)
    assert got == code, text
    assert "no_starvation          BOUND-REACHED" in text
    return text


def test_invalid_absolute_timer_breaks_the_abstraction(tmp_path: Path) -> None:
    text = starvation_text(tmp_path, "        r2 = 1\n        r3 = 0\n        call "
                           "bpf_timer_start          # again",
                           "        r2 = 3\n        r3 = 1\n        call "
                           "bpf_timer_start          # again", code=1)
    assert "not checked: slot abstraction not exact: run head at slot" in text


def test_invalid_slot_reading_program_is_not_abstracted(tmp_path: Path) -> None:
    text = starvation_text(tmp_path, "      spin:\n", "      spin:\n        call arspec_get_slot\n")
    assert "not checked: program setup reads the slot (arspec_get_slot at pc" in text


def linux_text(tmp_path: Path, extra: str = "") -> tuple[int, str]:
    text = ATTEMPT.read_text().replace("profile: solana", "profile: linux", 1)
    text = text.replace("      spin:\n", "      spin:\n" + extra, 1)
    path = tmp_path / "linux.yaml"
    path.write_text(text)
    return explore_bundle(str(path), reductions=False, timing=False)


def test_linux_bundle_without_clock_or_random_gets_a_verdict(tmp_path: Path) -> None:
    code, text = linux_text(tmp_path)
    assert code == 0, text
    assert "no_starvation          HOLDS" in text and text.endswith("verdict: HOLDS\n")


def test_linux_cpu_helper_keeps_the_abstraction(tmp_path: Path) -> None:
    code, text = linux_text(tmp_path, "        call bpf_get_smp_processor_id\n")
    assert code == 0 and "no_starvation          HOLDS" in text


@pytest.mark.parametrize("helper", ["bpf_ktime_get_ns", "bpf_ktime_get_boot_ns",
                                    "bpf_ktime_get_coarse_ns", "bpf_ktime_get_tai_ns",
                                    "bpf_get_prandom_u32"])
def test_invalid_linux_clock_or_random_is_not_abstracted(tmp_path: Path, helper: str) -> None:
    code, text = linux_text(tmp_path, f"        call {helper}\n")
    assert code == 3, text
    assert "no_starvation          BOUND-REACHED" in text
    assert f"not checked: program setup reads the slot ({helper} at pc" in text


def test_state_bound_gives_bound_reached(tmp_path: Path) -> None:
    code, text = explore_bundle(str(ATTEMPT), max_states=30, timing=False)
    assert code == 3
    assert "no_starvation: max-states (30 abstract states) before the abstract state graph " \
           "was complete" in text


def test_invalid_liveness_name_as_a_state_check() -> None:
    bundle = load_bundle(ATTEMPT)
    with pytest.raises(ModelError, match="liveness property"):
        RuntimeSystem(bundle, lambda *a: None, slots=2,  # type: ignore[arg-type,return-value]
                      checks=CheckSet(("no_starvation",)))


def test_invalid_unknown_requested_invariant() -> None:
    with pytest.raises(InputError, match="unknown explore invariant 'starve'"):
        get_requested_invariants(["starve"])


def test_requested_invariants_default_includes_liveness() -> None:
    assert get_requested_invariants(None)[-1] == "no_starvation"
    assert "no_starvation" not in get_requested_invariants(["progress", "budget"])


def test_starvation_report_identical_across_hash_seeds() -> None:
    script = ("from tests.outcomes import explore_bundle as e;"
              f"print(e({str(ATTEMPT)!r}, timing=False)[1])")
    outs = []
    for seed in ("0", "7"):
        env = dict(os.environ, PYTHONHASHSEED=seed)
        outs.append(subprocess.run([sys.executable, "-c", script], env=env, check=True,
                                   capture_output=True, text=True).stdout)
    assert outs[0] == outs[1]
    assert "no_starvation          HOLDS" in outs[0]


# --------------------------------------------------------------------------- every example


ALL_EXAMPLES = sorted(p.relative_to(ROOT).as_posix()
                      for p in [*ROOT.glob("examples/*.yaml"),
                                *ROOT.glob("examples/explore/*.yaml")])


@pytest.mark.parametrize("relative", ALL_EXAMPLES)
def test_every_example_explores_without_crashing(relative: str) -> None:
    path = str(ROOT / relative)
    try:
        code, text = explore_bundle(path, slots=2, max_states=3000, timing=False)
    except InputError as err:
        # A bundle the explorer cannot load or explore refuses in one line.
        assert ("no `scenario`" in str(err) or "refused in the solana" in str(err)) \
            and "\n" not in str(err)
        return
    assert code in (0, 1, 3)
    assert text.endswith(("verdict: HOLDS\n", "verdict: VIOLATED\n", "verdict: BOUND-REACHED\n"))
