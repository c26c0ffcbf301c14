"""Loading program.yaml bundles: located errors for every invalid fixture, and valid loads."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pydantic import ValidationError

import arspec.reference.runtime.runtime  # noqa: F401 - installs the ELF map reader
from arspec.spec.bundle import (
    Bundle,
    EveryHook,
    ExploreInvariant,
    ExpressionError,
    FieldType,
    MapType,
    ProgramProperty,
    Reference,
    WatchHook,
    WatchOp,
    expression_references,
    parse_expression,
)
from arspec.spec.errors import InputError
from arspec.spec.loader import BundleError, load_bundle, load_bundle_text
from arspec.spec.yaml_source import MAX_DEPTH, parse_yaml

BUNDLES = Path(__file__).parent / "bundles"
INVALID = sorted((BUNDLES / "invalid").glob("*.yaml"))
VALID = sorted((BUNDLES / "valid").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\d+):(\d+): (.+)$")

PROGRAM = 'programs:\n  p:\n    code: "exit"\n    hook: {on: startup}\n'


def _expectation(path: Path) -> tuple[int, int, str]:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    match = EXPECT.match(first)
    assert match, f"{path.name}: first line must be '# expect: LINE:COL: message'"
    return int(match[1]), int(match[2]), match[3]


def _error(text: str) -> BundleError:
    with pytest.raises(BundleError) as info:
        load_bundle_text(text, filename="b.yaml")
    return info.value


def test_fixture_counts() -> None:
    assert len(INVALID) >= 40
    assert len(VALID) >= 6


@pytest.mark.parametrize("path", INVALID, ids=lambda p: p.stem)
def test_invalid_bundle_is_located(path: Path) -> None:
    line, column, message = _expectation(path)
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    text = str(info.value)
    assert "\n" not in text
    assert text.startswith(f"{path}:{line}:{column}: error: "), text
    assert message in text


@pytest.mark.parametrize("path", VALID, ids=lambda p: p.stem)
def test_valid_bundle_loads(path: Path) -> None:
    bundle = load_bundle(path)
    assert isinstance(bundle, Bundle)
    assert bundle.arspec == 1
    assert bundle.programs


# --------------------------------------------------------------------------- valid contents


def test_pairs_trading_contents() -> None:
    bundle = load_bundle(BUNDLES / "valid" / "pairs_trading.yaml")
    assert list(bundle.programs) == ["heartbeat", "ticker", "watcher", "raw_watch", "timer_cb",
                                     "wq_cb", "consumer", "signal", "sizer"]
    assert list(bundle.maps) == ["prices", "events", "chain", "queue", "seen"]
    assert bundle.budgets.per_slot == 400_000
    assert bundle.accounts["vault"].data == bytes(7) + b"\x01"
    assert bundle.accounts["oracle"].fields["price"].init == 100
    assert bundle.accounts["oracle"].fields["conf"].type is FieldType.U32
    events = bundle.maps["events"]
    assert (events.type, events.key_size, events.value_size) == (MapType.RINGBUF, 0, 0)
    assert bundle.maps["chain"].entries == {0: "signal", 1: "sizer"}
    assert bundle.maps["chain"].value_size == 4
    assert bundle.maps["prices"].key_size == 4
    assert bundle.maps["prices"].init[1].value == b"\x64" + bytes(7)
    assert bundle.maps["queue"].key_size == 0
    ticker = bundle.programs["ticker"]
    assert ticker.hex == bytes.fromhex("b700000000000000" "9500000000000000")
    assert ticker.hook == EveryHook(on="every", slots=5)
    assert dict(ticker.functions) == {"tick_cb": 1, "other": "done"}
    watch = bundle.programs["watcher"].hook
    assert isinstance(watch, WatchHook)
    assert (watch.op, watch.bps, watch.value) == (WatchOp.CHANGE_BPS, 50, None)
    assert bundle.scenario.writes[1].hex == b"\x01\x02"
    assert bundle.scenario.domains["oracle.price"].slots == [1, 2, 3]
    assert bundle.properties.explore is not None
    assert bundle.properties.explore.invariants == [
        ExploreInvariant.BUDGET, ExploreInvariant.NO_LOST_TIMER, ExploreInvariant.RINGBUF_FIFO]


def test_minimal_bundle_defaults() -> None:
    bundle = load_bundle(BUNDLES / "valid" / "minimal.yaml")
    assert bundle.profile == "solana"
    assert bundle.preset == "linux_like"
    assert (bundle.budgets.per_invocation, bundle.budgets.per_slot) == (200_000, 400_000)
    assert bundle.properties.programs == list(ProgramProperty)
    assert bundle.properties.explore is None
    assert bundle.scenario.slots == 50
    assert bundle.programs["main"].code == "r0 = 0\nexit\n"


def test_yaml_1_2_scalars() -> None:
    bundle = load_bundle(BUNDLES / "valid" / "yaml_scalars.yaml")
    assert bundle.name == "yes"
    assert bundle.budgets.per_invocation == 200_000
    assert bundle.budgets.per_slot == 1_400_000
    assert bundle.accounts["flags"].size == 8
    assert bundle.accounts["flags"].fields["mask"].init == 0b1010
    assert bundle.programs["main"].hook == EveryHook(on="every", slots=1)


def test_explore_defaults() -> None:
    bundle = load_bundle(BUNDLES / "valid" / "explore_defaults.yaml")
    explore = bundle.properties.explore
    assert explore is not None
    assert (explore.slots, explore.response_bound) == (6, 3)
    assert explore.invariants == list(ExploreInvariant)
    assert bundle.scenario.domains["oracle.price"].slots is None


def test_bundle_is_frozen() -> None:
    bundle = load_bundle(BUNDLES / "valid" / "minimal.yaml")
    with pytest.raises(ValidationError):
        bundle.name = "changed"  # type: ignore[misc]


# --------------------------------------------------------------------------- error details


def test_invalid_error_is_an_input_error_with_location() -> None:
    err = _error("arspec: 1\nprograms: {}\n")
    assert isinstance(err, InputError)
    assert (err.file, err.line, err.column) == ("b.yaml", 2, 11)
    assert err.reason == "programs: must not be empty"


def test_invalid_all_problems_are_listed_in_file_order() -> None:
    err = _error("arspec: 1\nprofile: x\n" + PROGRAM + "budgets: {per_slot: 0}\n")
    lines = [(d.line, d.column) for d in err.diagnostics]
    assert lines == [(2, 10), (7, 21)]
    assert str(err) == str(err.diagnostics[0])


def test_invalid_unknown_key_reported_before_the_missing_key_it_explains() -> None:
    err = _error("arspec: 1\nmaps:\n  a:\n    type: array\n    value_size: 4\n"
                 "    max_entrys: 4\n" + PROGRAM)
    assert str(err) == ("b.yaml:6:5: error: maps.a.max_entrys: unknown key "
                        "(did you mean 'max_entries'?)")
    assert any("max_entries: required key is missing" in str(d) for d in err.diagnostics)


def test_invalid_unknown_key_without_close_match_has_no_hint() -> None:
    err = _error("arspec: 1\nzzzzzz: 1\n" + PROGRAM)
    assert str(err) == "b.yaml:2:1: error: zzzzzz: unknown key"


def test_invalid_missing_file() -> None:
    with pytest.raises(BundleError, match="no such file"):
        load_bundle("/nonexistent/dir/program.yaml")


def test_invalid_directory(tmp_path: Path) -> None:
    with pytest.raises(BundleError, match="is a directory"):
        load_bundle(tmp_path)


def test_invalid_not_utf8(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_bytes(b"arspec: 1\nname: \xff\n")
    with pytest.raises(BundleError, match="not UTF-8 text"):
        load_bundle(path)


def test_invalid_elf_missing_relative_to_bundle(tmp_path: Path) -> None:
    path = tmp_path / "b.yaml"
    path.write_text("arspec: 1\nprograms:\n  p: {elf: obj/p.o, section: xdp, "
                    "hook: {on: startup}}\n")
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    assert str(info.value) == (f"{path}:3:12: error: programs.p.elf: no such file 'obj/p.o' "
                               "(relative to the bundle)")


def test_invalid_elf_present_relative_to_bundle_but_malformed(tmp_path: Path) -> None:
    # The object is read at load (its maps join the bundle's), so a broken one is a load error.
    (tmp_path / "obj").mkdir()
    (tmp_path / "obj" / "p.o").write_bytes(b"\x7fELF")
    path = tmp_path / "b.yaml"
    path.write_text("arspec: 1\nprograms:\n  p: {elf: obj/p.o, section: xdp, "
                    "hook: {on: startup}}\n")
    with pytest.raises(BundleError) as info:
        load_bundle(path)
    assert str(info.value) == (f"{path}:3:12: error: programs.p.elf: not a 64-bit ELF object "
                               "(BPF objects are ELFCLASS64)")


def test_text_without_base_dir_skips_elf_check() -> None:
    bundle = load_bundle_text("arspec: 1\nprograms:\n  p: {elf: p.o, hook: {on: startup}}\n",
                              filename="b.yaml")
    assert bundle.programs["p"].elf == "p.o"


def test_invalid_deep_nesting() -> None:
    text = "arspec: 1\nname: " + "[" * (MAX_DEPTH + 5) + "]" * (MAX_DEPTH + 5) + "\n"
    err = _error(text)
    assert err.line == 2
    assert "nesting deeper than" in err.reason


def test_tab_inside_a_quoted_string_is_not_indentation() -> None:
    bundle = load_bundle_text('arspec: 1\nname: "a\tb"\n' + PROGRAM, filename="b.yaml")
    assert bundle.name == "a\tb"


def test_invalid_tab_after_spaces_is_located_at_the_tab() -> None:
    err = _error("arspec: 1\nprograms:\n  \tp: {}\n")
    assert (err.line, err.column) == (3, 3)


def test_invalid_string_where_integer_expected_names_the_input() -> None:
    err = _error("arspec: 1\n" + PROGRAM + "scenario: {slots: ten}\n")
    assert str(err) == ("b.yaml:6:19: error: scenario.slots: input should be a valid integer, "
                        "got the string 'ten'")


def test_invalid_list_for_mapping() -> None:
    err = _error("arspec: 1\naccounts: [a, b]\n" + PROGRAM)
    assert (err.line, err.column) == (2, 11)
    assert "accounts:" in err.reason and "got a list" in err.reason


def test_invalid_null_value() -> None:
    err = _error("arspec: 1\nbudgets:\n  per_slot:\n" + PROGRAM)
    assert err.reason == "budgets.per_slot: input should be a valid integer, got null"


def test_invalid_per_slot_rule_with_default_per_invocation() -> None:
    err = _error("arspec: 1\nbudgets: {per_slot: 1000}\n" + PROGRAM)
    assert str(err) == ("b.yaml:2:21: error: budgets.per_slot: per_slot (1000) must be >= "
                        "per_invocation (200000)")


# --------------------------------------------------------------------------- yaml reader


def test_source_map_positions() -> None:
    doc = parse_yaml("a:\n  b: [1, {c: x}]\n", filename="t.yaml")
    assert doc.data == {"a": {"b": [1, {"c": "x"}]}}
    assert doc.source_map.values[("a", "b", 1, "c")].column == 14
    assert doc.source_map.keys[("a", "b")].line == 2
    assert doc.source_map.value(("a", "b", 7)) == doc.source_map.values[("a", "b")]


@pytest.mark.parametrize("text, reason", [
    ("a: &x 1\n", "anchors and aliases"),
    ("a: !!set {x}\n", "YAML tag"),
    ("1.5: a\n", "must be a string or an integer"),
    ("false: a\n", "must be a string or an integer"),
    ("a: 1\nb: 2\na: 3\n", "duplicate key 'a' (first defined at line 1)"),
    ("a: 'unterminated\n", "invalid YAML"),
])
def test_invalid_yaml_constructs(text: str, reason: str) -> None:
    with pytest.raises(InputError, match=re.escape(reason)):
        parse_yaml(text, filename="t.yaml")


@pytest.mark.parametrize("text, value", [
    ("010", "010"), ("0x1F", 31), ("-0b11", -3), ("0o17", 15), ("1_000", 1000),
    ("yes", "yes"), ("off", "off"), ("True", True), ("~", None), ("1.5", 1.5),
    ("2024-01-01", "2024-01-01"), ("'12'", "12"),
])
def test_scalar_resolution(text: str, value: object) -> None:
    assert parse_yaml(f"k: {text}\n", filename="t.yaml").data == {"k": value}


# --------------------------------------------------------------------------- expressions


def test_expression_references_in_source_order() -> None:
    tree = parse_expression("prices[2].bid - oracle.price >= 0x10 and not vault.flag")
    assert expression_references(tree) == [
        Reference("prices", 2, "bid", 1), Reference("oracle", None, "price", 17),
        Reference("vault", None, "flag", 46)]


@pytest.mark.parametrize("expr, reason", [
    ("oracle.price if 1 else 2", "'IfExp' is not allowed"),
    ("oracle.price / 2 > 1", "'Div' is not allowed"),
    ("oracle.price > True", "only integer literals"),
    ("oracle.price == 'a'", "only integer literals"),
    ("prices[-1].x > 0", "a name must be"),
    ("prices[oracle.price].x > 0", "a name must be"),
    ("oracle.price in (1, 2)", "not allowed"),
    ("oracle.price > 0\nor 1", "one line"),
    ("oracle.price >", "syntax error"),
])
def test_invalid_expressions(expr: str, reason: str) -> None:
    with pytest.raises(ExpressionError, match=re.escape(reason)):
        expression_references(parse_expression(expr))
