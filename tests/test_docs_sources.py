"""The docs stand on their own: facts cite primary sources, not a document outside the project,
and the preset table matches what bundles accept."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
_OUTSIDE = re.compile(r"runtime[ -]facts|facts (?:section|§|\d)", re.IGNORECASE)


def _project_texts() -> list[Path]:
    found = []
    for pattern in ("**/*.py", "**/*.rst", "**/*.md", "**/*.yaml", "**/*.s", "**/*.c"):
        found += [p for p in ROOT.glob(pattern)
                  if "_build" not in p.parts and ".typecheck" not in p.parts]
    return sorted(set(found))


def test_no_text_cites_the_outside_fact_sheet() -> None:
    this = Path(__file__).resolve()
    cited = [f"{p.relative_to(ROOT)}:{n}" for p in _project_texts() if p.resolve() != this
             for n, line in enumerate(p.read_text(errors="replace").splitlines(), 1)
             if _OUTSIDE.search(line)]
    assert cited == []


def _preset_table() -> tuple[list[str], list[list[object]]]:
    import sys

    sys.path.insert(0, str(ROOT / "docs"))
    try:
        import generate
    finally:
        sys.path.pop(0)
    header, rows = generate.preset_table()
    return header, rows


def _accepts(preset: str, maps: str) -> bool:
    from arspec.spec.loader import BundleError, load_bundle_text

    text = (f"arspec: 1\npreset: {preset}\nmaps:\n{maps}\nprograms:\n"
            "  p: {hook: {on: startup}, code: \"r0 = 0\\nexit\"}\n")
    try:
        bundle = load_bundle_text(text, filename="b.yaml")
    except BundleError:
        return False
    from arspec.spec.state import create_runtime_state

    create_runtime_state(bundle)  # the runtime takes what the schema took
    return True


def test_preset_table_matches_what_bundles_accept() -> None:
    from arspec.spec.loader import load_bundle_text
    from arspec.spec.state import create_runtime_state

    header, rows = _preset_table()
    table = {str(row[0]): dict(zip(header[1:], row[1:], strict=True)) for row in rows}
    for preset in ("minimal", "linux_like"):
        limits = {field: values[f"{preset} in a bundle"] for field, values in table.items()}
        entries, key, value = (limits["max_map_entries"], limits["max_key_size"],
                               limits["max_value_size"])
        assert _accepts(preset, f"  m: {{type: hash, key_size: 4, value_size: 4, "
                                f"max_entries: {entries}}}")
        assert not _accepts(preset, f"  m: {{type: hash, key_size: 4, value_size: 4, "
                                    f"max_entries: {entries + 1}}}")
        assert _accepts(preset, f"  m: {{type: hash, key_size: {key}, value_size: 4, "
                                "max_entries: 1}")
        assert not _accepts(preset, f"  m: {{type: hash, key_size: {key + 1}, value_size: 4, "
                                    "max_entries: 1}")
        assert _accepts(preset, f"  m: {{type: array, value_size: {value}, max_entries: 1}}")
        assert not _accepts(preset, f"  m: {{type: array, value_size: {value + 1}, "
                                    "max_entries: 1}")
        ring_min, ring_max, page = (limits["ringbuf_min_size"], limits["ringbuf_max_size"],
                                    limits["ringbuf_page_size"])
        for size in (ring_min, ring_max):
            assert _accepts(preset, f"  r: {{type: ringbuf, max_entries: {size}}}")
        for size in (ring_min // 2, ring_max * 2, ring_min + page // 2):
            assert not _accepts(preset, f"  r: {{type: ringbuf, max_entries: {size}}}")
        bundle = load_bundle_text(f"arspec: 1\npreset: {preset}\nprograms:\n"
                                  "  p: {hook: {on: startup}, code: \"r0 = 0\\nexit\"}\n",
                                  filename="b.yaml")
        state = create_runtime_state(bundle)
        for field in ("num_cpus", "max_tail_call_cnt", "bpf_max_loops"):
            assert getattr(state.preset, field) == limits[field], (preset, field)
        assert bundle.budgets.per_invocation == limits["invocation_budget_cu"]
        assert bundle.budgets.per_slot == limits["slot_budget_cu"]
