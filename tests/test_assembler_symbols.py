"""Names in pseudo ``lddw`` forms: bundle map names and code-address labels."""

from __future__ import annotations

import pytest

from arspec.reference.isa.assembler import assemble, get_labels
from arspec.reference.isa.instructions import LoadImm64, Pseudo
from arspec.spec.errors import InputError

MAPS = {"prices": 0, "events": 1}


def test_map_name_resolves_to_its_index() -> None:
    program = assemble("r1 = map_idx(events)\nr0 = 0\nexit\n", symbols=MAPS)
    assert program.slots[0] == LoadImm64(1, Pseudo.MAP_IDX, 1, 0)


def test_map_value_name_keeps_offset() -> None:
    program = assemble("r1 = map_idx_value(prices) + 8 ll\nr0 = 0\nexit\n", symbols=MAPS)
    assert program.slots[0] == LoadImm64(1, Pseudo.MAP_IDX_VALUE, 0, 8)


def test_code_address_label_is_pc_relative_and_takes_two_slots() -> None:
    text = "r2 = code_addr(cb)\nr0 = 0\nexit\ncb:\nr0 = 1\nexit\n"
    program = assemble(text)
    # lddw occupies pcs 0-1, so the callback label is pc 4: offset 4 - 0 - 1 = 3.
    assert program.slots[0] == LoadImm64(2, Pseudo.CODE_ADDR, 3, 0)
    assert get_labels(text)["cb"] == 4


def test_labels_after_a_code_address_count_both_slots() -> None:
    text = "r2 = code_addr(done)\ngoto done\nr0 = 1\ndone:\nr0 = 0\nexit\n"
    assert get_labels(text)["done"] == 4
    assert len(assemble(text)) == 6


def test_invalid_unknown_map_name_lists_known_names() -> None:
    with pytest.raises(InputError) as err:
        assemble("r0 = 0\nr1 = map_idx(pricse)\nexit\n", filename="b.yaml", symbols=MAPS)
    assert str(err.value) == ("b.yaml:2:14: error: unknown name 'pricse' "
                              "(known names: events, prices)")


def test_invalid_map_name_without_symbols() -> None:
    with pytest.raises(InputError, match="unknown name 'prices' \\(known names: none\\)"):
        assemble("r1 = map_idx(prices)\nexit\n")


def test_invalid_code_address_to_undefined_label() -> None:
    with pytest.raises(InputError, match=r"2:.*undefined label 'nowhere'"):
        assemble("r0 = 0\nr2 = code_addr(nowhere)\nexit\n")


def test_invalid_code_address_label_in_a_narrow_register() -> None:
    with pytest.raises(InputError, match="needs an 'r' register"):
        assemble("w2 = code_addr(cb)\ncb:\nexit\n")
