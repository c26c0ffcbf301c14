"""
Program bundle schema
=====================

The typed, frozen form of a ``program.yaml`` bundle: the accounts of the outside world, the
maps, the programs and their hooks, the compute budgets, a scenario of account writes, and
the properties ``spec-check`` should establish. :func:`arspec.spec.loader.load_bundle` reads a
file into a :class:`Bundle`; ``spec-check schema`` prints :func:`bundle_json_schema`.

Every model is strict (``1`` is an integer, ``"1"`` is not, ``true`` is not an integer),
forbids unknown keys, and is frozen so the rest of the system can treat a bundle as
immutable data. Mappings keep declaration order, which gives programs and maps their ids:
the first program in the file is program 0, and so on.

Rules that involve one model are checked by that model; rules that cross models (a hook on
an undeclared account, a ``prog_array`` entry naming a missing program, a budget above the
invocation budget, ...) are checked by :class:`Bundle`. A rule violation is reported as a
``bundle_rule`` error whose context ``at`` names the offending key relative to the model, so
the loader can point at the exact line and column.

Invariant expressions
---------------------

``properties.invariants[].expr`` is a small, side-effect-free expression language parsed
with Python's :mod:`ast` in ``eval`` mode and restricted to::

    expr     := expr ("or" | "and") expr | "not" expr
              | arith (("==" | "!=" | "<" | "<=" | ">" | ">=") arith)+   (chains allowed)
              | arith
    arith    := arith ("+" | "-" | "*" | "//" | "%" | "&" | "|" | "^" | "<<" | ">>") arith
              | "-" arith | "~" arith | "(" expr ")" | INTEGER | ref
    ref      := ACCOUNT "." FIELD            account field, e.g. oracle.price
              | MAP "[" INTEGER "]" "." FIELD   named field of a map value, e.g. prices[0].bid

``INTEGER`` is a non-negative decimal, hex (``0x``), octal (``0o``) or binary (``0b``)
literal. Map keys are written as subscripts because Python's grammar cannot parse
``prices.0.bid``. Every name must refer to a declared account field or a declared field of a
map's value layout (``maps.<m>.fields``). Values are unbounded integers; a comparison is
true or false.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Final, Literal, NoReturn, Self

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainValidator,
    PrivateAttr,
    Strict,
    StringConstraints,
    WithJsonSchema,
    field_validator,
    model_validator,
)
from pydantic_core import PydanticCustomError

from .contexts import DEFAULT_RAW_CONTEXT, MAX_PACKET_SIZE, MAX_RAW_CONTEXT, ProgramType

#: The only ``arspec:`` format version this code reads.
FORMAT_VERSION = 1
#: Largest compute budget of one Solana transaction, the ceiling for one invocation.
MAX_INVOCATION_CU = 1_400_000
#: Default compute units for one invocation (Solana's default per instruction).
DEFAULT_INVOCATION_CU = 200_000
#: Default compute units per slot for the whole scheduler.
DEFAULT_SLOT_CU = 400_000
#: Largest account data size (Solana MAX_PERMITTED_DATA_LENGTH, 10 MiB).
MAX_ACCOUNT_SIZE = 10 * 1024 * 1024
#: Size in bytes of ``struct bpf_timer`` and ``struct bpf_wq`` in a map value.
ASYNC_STRUCT_SIZE = 16
#: Size in bytes of ``struct bpf_spin_lock`` in a map value (4-aligned).
SPIN_LOCK_SIZE = 4
#: Ring-buffer data sizes must be a power of two and a multiple of this page size.
RINGBUF_PAGE_SIZE = 4096
#: Longest scenario or exploration, in slots.
MAX_SLOTS = 1_000_000
#: Largest ``max_entries`` of any non-ringbuf map.
MAX_MAP_ENTRIES = 1 << 24
#: Largest key or value size in bytes.
MAX_KV_SIZE = 1 << 16
#: Most accounts, most maps and most programs one bundle declares (each).
MAX_NAMED_ITEMS = 1024
#: Largest ring-buffer data size in bytes (the ``linux_like`` preset's ``ringbuf_max_size``).
MAX_RINGBUF_SIZE = 1 << 24
#: Largest total of ring-buffer data and account data in one bundle: ``run`` and ``explore``
#: hold these bytes in memory, and copy them for every invocation and every explored state.
MAX_STATE_BYTES = 64 * 1024 * 1024

NAME_PATTERN = r"^[A-Za-z_][A-Za-z0-9_]*$"
HEX_PATTERN = r"^\s*(?:[0-9A-Fa-f]{2}\s*)*$"
_NAME = re.compile(NAME_PATTERN)
_HEX = re.compile(HEX_PATTERN)


def _rule(reason: str, *at: str | int) -> NoReturn:
    """Raise a ``bundle_rule`` error located at the key path ``at`` below the current model."""
    raise PydanticCustomError("bundle_rule", "{reason}", {"reason": reason, "at": at})


class _Model(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)


# --------------------------------------------------------------------------- scalar types

Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=64)]
"""An identifier: letters, digits and ``_``, not starting with a digit, at most 64 chars."""


def _hex_to_bytes(value: object) -> object:
    if isinstance(value, bytes):
        return value
    if not isinstance(value, str):
        raise PydanticCustomError("hex_type", "expected a string of hex bytes like '01 ff'")
    if not _HEX.match(value):
        raise PydanticCustomError(
            "hex_format", "invalid hex bytes '{value}': write pairs of hex digits like '01 ff'",
            {"value": value if len(value) <= 40 else value[:37] + "..."})
    return bytes.fromhex("".join(value.split()))


HexBytes = Annotated[
    bytes,
    BeforeValidator(_hex_to_bytes),
    WithJsonSchema({"type": "string", "pattern": HEX_PATTERN}),
]
"""Bytes written as pairs of hex digits, optionally separated by white space: ``"01 ff"``."""


def _int_or_hex(value: object) -> int | bytes:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise PydanticCustomError("int_or_hex", "must be a non-negative integer")
        return value
    if isinstance(value, str | bytes):
        result = _hex_to_bytes(value)
        assert isinstance(result, bytes)
        return result
    raise PydanticCustomError("int_or_hex", "expected an integer or a string of hex bytes")


IntOrHex = Annotated[
    int | bytes,
    PlainValidator(_int_or_hex),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0},
                              {"type": "string", "pattern": HEX_PATTERN}]}),
]
"""A non-negative integer (little-endian in memory) or a string of hex bytes."""


def _pc_or_label(value: object) -> int | str:
    if isinstance(value, int) and not isinstance(value, bool):
        if value < 0:
            raise PydanticCustomError("pc_or_label", "a pc must be a non-negative integer")
        return value
    if isinstance(value, str) and _NAME.match(value):
        return value
    raise PydanticCustomError("pc_or_label", "expected a pc (integer) or a label (identifier)")


PcOrLabel = Annotated[
    int | str,
    PlainValidator(_pc_or_label),
    WithJsonSchema({"anyOf": [{"type": "integer", "minimum": 0},
                              {"type": "string", "pattern": NAME_PATTERN}]}),
]
"""An instruction index or an assembly label."""


def _unique(items: Sequence[object], what: str) -> None:
    seen: set[object] = set()
    for index, item in enumerate(items):
        if item in seen:
            _rule(f"duplicate {what} '{item}'", index)
        seen.add(item)


# --------------------------------------------------------------------------- enums


class Profile(StrEnum):
    """Which runtime rules apply."""

    #: Consensus: only deterministic helpers; sBPF division and memory rules.
    SOLANA = "solana"
    #: Linux eBPF baseline behaviour.
    LINUX = "linux"


class PresetName(StrEnum):
    """Which table of limits (ring-buffer bytes, timers, tail-call depth, ...) applies."""

    MINIMAL = "minimal"
    LINUX_LIKE = "linux_like"


class MapType(StrEnum):
    """The map types a bundle may declare (Linux names, lower case)."""

    HASH = "hash"
    ARRAY = "array"
    PERCPU_ARRAY = "percpu_array"
    PERCPU_HASH = "percpu_hash"
    LRU_HASH = "lru_hash"
    QUEUE = "queue"
    STACK = "stack"
    PROG_ARRAY = "prog_array"
    RINGBUF = "ringbuf"


#: Map types indexed by a u32 (key_size 4, every slot exists).
ARRAY_LIKE = frozenset({MapType.ARRAY, MapType.PERCPU_ARRAY, MapType.PROG_ARRAY})
#: Map types with arbitrary keys.
HASH_LIKE = frozenset({MapType.HASH, MapType.PERCPU_HASH, MapType.LRU_HASH})
#: Map types without keys (key_size 0).
KEYLESS = frozenset({MapType.QUEUE, MapType.STACK, MapType.RINGBUF})
#: Map types whose values may hold a bpf_timer or bpf_wq (Linux map_check_btf).
ASYNC_CAPABLE = frozenset({MapType.HASH, MapType.LRU_HASH, MapType.ARRAY})
#: Map types whose values may hold a bpf_spin_lock (Linux map_check_btf).
SPIN_LOCK_CAPABLE = frozenset({MapType.HASH, MapType.ARRAY})
#: Map types that may have initial contents.
INITIALISABLE = frozenset(HASH_LIKE | {MapType.ARRAY, MapType.PERCPU_ARRAY})


class FieldType(StrEnum):
    """A little-endian integer type of a named field."""

    U8 = "u8"
    U16 = "u16"
    U32 = "u32"
    U64 = "u64"
    I8 = "i8"
    I16 = "i16"
    I32 = "i32"
    I64 = "i64"


def field_width(kind: FieldType) -> int:
    """Return the size in bytes of a field type."""
    return int(kind.value[1:]) // 8


def field_range(kind: FieldType) -> tuple[int, int]:
    """Return the inclusive range of values a field type holds."""
    bits = int(kind.value[1:])
    if kind.value.startswith("u"):
        return 0, (1 << bits) - 1
    return -(1 << (bits - 1)), (1 << (bits - 1)) - 1


def _check_fits(value: int, kind: FieldType, *at: str | int) -> None:
    low, high = field_range(kind)
    if not low <= value <= high:
        _rule(f"value {value} does not fit in {kind.value} ({low}..{high})", *at)


class WatchOp(StrEnum):
    """How a watcher compares an account field with its threshold."""

    EQ = "eq"
    NE = "ne"
    LT = "lt"
    LE = "le"
    GT = "gt"
    GE = "ge"
    #: Fires when the field differs from the value seen at the previous check.
    CHANGED = "changed"
    #: Fires when the field moved by at least ``bps`` basis points since the last firing.
    CHANGE_BPS = "change_bps"


COMPARISONS = frozenset({WatchOp.EQ, WatchOp.NE, WatchOp.LT, WatchOp.LE, WatchOp.GT,
                         WatchOp.GE})


class ProgramProperty(StrEnum):
    """A property the static checker proves for each program."""

    TERMINATION = "termination"
    MEMORY = "memory"
    COMPUTE = "compute"
    DETERMINISM = "determinism"


class ExploreInvariant(StrEnum):
    """A scheduler invariant from the catalogue the explorer checks."""

    BUDGET = "budget"
    NO_LOST_TIMER = "no_lost_timer"
    NO_DOUBLE_EXECUTION = "no_double_execution"
    RINGBUF_FIFO = "ringbuf_fifo"
    TAIL_CALL_LIMIT = "tail_call_limit"
    WATCHER_CASCADE = "watcher_cascade"
    RUNTIME_WATCHERS = "runtime_watchers"
    PROGRESS = "progress"
    BOUNDED_RESPONSE = "bounded_response"
    NO_STARVATION = "no_starvation"


# --------------------------------------------------------------------------- budgets


class Budgets(_Model):
    """Compute-unit budgets (1 CU per instruction, helper costs from the helper table)."""

    per_invocation: int = Field(
        default=DEFAULT_INVOCATION_CU, ge=1, le=MAX_INVOCATION_CU,
        description="Compute units one invocation of a program may use, "
                    f"1..{MAX_INVOCATION_CU} (the Solana transaction maximum).")
    per_slot: int = Field(
        default=DEFAULT_SLOT_CU, ge=1,
        description="Compute units the scheduler spends per slot over all programs; work "
                    "beyond it is deferred to the next slot. Must be >= per_invocation so "
                    "that every invocation fits in one slot.")

    @model_validator(mode="after")
    def _slot_holds_an_invocation(self) -> Self:
        if self.per_slot < self.per_invocation:
            _rule(f"per_slot ({self.per_slot}) must be >= per_invocation "
                  f"({self.per_invocation})", "per_slot")
        return self


# --------------------------------------------------------------------------- accounts


class AccountField(_Model):
    """A named little-endian integer inside an account's data."""

    offset: int = Field(ge=0, description="Byte offset of the field in the account data.")
    type: FieldType = Field(default=FieldType.U64, strict=False,
                            description="Integer type; its width is the field's size.")
    init: int | None = Field(default=None, description="Initial value, written over `data`; "
                                               "omitted: taken from `data` (zeros).")


class Account(_Model):
    """An account of the outside world that programs read and the scenario writes."""

    size: int = Field(ge=1, le=MAX_ACCOUNT_SIZE, description="Data size in bytes.")
    data: HexBytes | None = Field(
        default=None, description="Initial data as hex bytes; shorter than `size` is zero-padded.")
    fields: Mapping[Name, AccountField] = Field(
        default_factory=dict,
        description="Named fields (used by watchers, scenario writes and invariants). "
                    "Fields may not overlap.")

    @model_validator(mode="after")
    def _fields_fit(self) -> Self:
        if self.data is not None and len(self.data) > self.size:
            _rule(f"data has {len(self.data)} bytes but the account size is {self.size}",
                  "data")
        taken: list[tuple[int, int, str]] = []
        for name, spec in self.fields.items():
            end = spec.offset + field_width(spec.type)
            if end > self.size:
                _rule(f"field '{name}' ends at byte {end}, past the account size {self.size}",
                      "fields", name, "offset")
            for start, stop, other in taken:
                if spec.offset < stop and start < end:
                    _rule(f"field '{name}' overlaps field '{other}'", "fields", name, "offset")
            taken.append((spec.offset, end, name))
            if spec.init is not None:
                _check_fits(spec.init, spec.type, "fields", name, "init")
        return self


# --------------------------------------------------------------------------- maps


class ValueField(_Model):
    """A named little-endian integer inside a map value (for invariants)."""

    offset: int = Field(ge=0, description="Byte offset of the field in the value.")
    type: FieldType = Field(default=FieldType.U64, strict=False,
                            description="Integer type; its width is the field's size.")


class MapInit(_Model):
    """One initial element of a hash or array map."""

    key: IntOrHex = Field(description="The key: an integer (little-endian, key_size bytes; "
                                      "the index for arrays) or exactly key_size hex bytes.")
    value: IntOrHex = Field(description="The value: an integer (little-endian, value_size "
                                        "bytes) or hex bytes, zero-padded to value_size.")


_FIXED_SIZES: dict[MapType, tuple[int | None, int | None]] = {
    MapType.ARRAY: (4, None),
    MapType.PERCPU_ARRAY: (4, None),
    MapType.PROG_ARRAY: (4, 4),
    MapType.QUEUE: (0, None),
    MapType.STACK: (0, None),
    MapType.RINGBUF: (0, 0),
}
_FIXED_BY_NAME: dict[str, tuple[int | None, int | None]] = {
    kind.value: sizes for kind, sizes in _FIXED_SIZES.items()}


def _encoded(item: int | bytes, size: int, what: str, *at: str | int) -> bytes:
    if isinstance(item, bytes):
        if len(item) > size or (what == "key" and len(item) != size):
            _rule(f"{what} has {len(item)} bytes but {what}_size is {size}", *at)
        return item.ljust(size, b"\0")
    if item >= 1 << (8 * size):
        _rule(f"{what} {item} does not fit in {size} bytes", *at)
    return item.to_bytes(size, "little")


class MapSpec(_Model):
    """A map: its type, sizes, and what its values may contain."""

    type: MapType = Field(strict=False, description="Map type (Linux name in lower case).")
    key_size: int = Field(
        ge=0, le=MAX_KV_SIZE,
        description="Key size in bytes. Fixed and optional for array-like maps (4) and for "
                    "queue, stack and ringbuf (0); required for hash maps.")
    value_size: int = Field(
        ge=0, le=MAX_KV_SIZE,
        description="Value size in bytes. Fixed and optional for prog_array (4) and ringbuf "
                    "(0); required otherwise.")
    max_entries: int = Field(
        ge=1, description=f"Capacity, at most {MAX_MAP_ENTRIES}; for ringbuf the data size in "
                          f"bytes, a power of two, a multiple of {RINGBUF_PAGE_SIZE} and at most "
                          f"{MAX_RINGBUF_SIZE}. Array elements are stored when first used.")
    pinned: bool = Field(
        default=False,
        description="Pinned maps keep a user reference, so timers in them may re-arm forever.")
    timer: int | None = Field(
        default=None, ge=0,
        description=f"Byte offset of a {ASYNC_STRUCT_SIZE}-byte bpf_timer in the value "
                    "(hash, lru_hash, array only; 8-aligned).")
    wq: int | None = Field(
        default=None, ge=0, description=f"Byte offset of a {ASYNC_STRUCT_SIZE}-byte bpf_wq in the "
                                "value (hash, lru_hash, array only; 8-aligned).")
    spin_lock: int | None = Field(
        default=None, ge=0,
        description=f"Byte offset of the {SPIN_LOCK_SIZE}-byte bpf_spin_lock in the value "
                    "(hash and array only; 4-aligned; at most one per value).")
    fields: Mapping[Name, ValueField] = Field(
        default_factory=dict,
        description="Named integer fields of the value layout, for invariants "
                    "(`map[key].field`).")
    entries: Mapping[int, Name] = Field(
        default_factory=dict,
        description="prog_array only: index -> program name installed at load.")
    init: list[MapInit] = Field(default_factory=list,
                                description="Initial elements (hash and array maps only).")

    @model_validator(mode="before")
    @classmethod
    def _fill_fixed_sizes(cls, data: Any) -> Any:
        # ``type`` may be anything the author wrote (a list is unhashable): test it is a str.
        if isinstance(data, dict) and isinstance(data.get("type"), str) and \
                data["type"] in _FIXED_BY_NAME:
            data = dict(data)
            for key, size in zip(("key_size", "value_size"), _FIXED_BY_NAME[data["type"]],
                                 strict=True):
                if size is not None:
                    data.setdefault(key, size)
        return data

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        self._check_sizes()
        self._check_async("timer")
        self._check_async("wq")
        if self.timer is not None and self.wq is not None and abs(
                self.timer - self.wq) < ASYNC_STRUCT_SIZE:
            _rule("the timer and wq structs overlap", "wq")
        self._check_spin_lock()
        self._check_fields()
        self._check_entries()
        self._check_init()
        return self

    def _check_sizes(self) -> None:
        kind = self.type
        key, value = _FIXED_SIZES.get(kind, (None, None))
        if key is not None and self.key_size != key:
            _rule(f"{kind.value} maps have key_size {key}", "key_size")
        if value is not None and self.value_size != value:
            _rule(f"{kind.value} maps have value_size {value}", "value_size")
        if kind in HASH_LIKE and self.key_size == 0:
            _rule(f"{kind.value} maps need key_size >= 1", "key_size")
        if kind not in (MapType.RINGBUF,) and self.value_size == 0:
            _rule(f"{kind.value} maps need value_size >= 1", "value_size")
        if kind == MapType.RINGBUF:
            size = self.max_entries
            if size & (size - 1) or size % RINGBUF_PAGE_SIZE:
                _rule(f"ringbuf max_entries ({size}) must be a power of two and a multiple of "
                      f"{RINGBUF_PAGE_SIZE}", "max_entries")
            if size > MAX_RINGBUF_SIZE:
                _rule(f"ringbuf max_entries ({size}) must be <= {MAX_RINGBUF_SIZE}",
                      "max_entries")
        elif self.max_entries > MAX_MAP_ENTRIES:
            _rule(f"max_entries must be <= {MAX_MAP_ENTRIES}", "max_entries")

    def _check_async(self, which: Literal["timer", "wq"]) -> None:
        offset = self.timer if which == "timer" else self.wq
        if offset is None:
            return
        if self.type not in ASYNC_CAPABLE:
            _rule(f"a {self.type.value} map cannot hold a {which} (only hash, lru_hash and "
                  "array values can)", which)
        if offset % 8:
            _rule(f"{which} offset {offset} is not 8-byte aligned", which)
        if offset + ASYNC_STRUCT_SIZE > self.value_size:
            _rule(f"{which} at offset {offset} needs {ASYNC_STRUCT_SIZE} bytes but value_size "
                  f"is {self.value_size}", which)

    def _check_spin_lock(self) -> None:
        offset = self.spin_lock
        if offset is None:
            return
        if self.type not in SPIN_LOCK_CAPABLE:
            _rule(f"a {self.type.value} map cannot hold a spin_lock (only hash and array "
                  "values can)", "spin_lock")
        if offset % SPIN_LOCK_SIZE:
            _rule(f"spin_lock offset {offset} is not 4-byte aligned", "spin_lock")
        if offset + SPIN_LOCK_SIZE > self.value_size:
            _rule(f"spin_lock at offset {offset} needs {SPIN_LOCK_SIZE} bytes but value_size "
                  f"is {self.value_size}", "spin_lock")
        for other, what in ((self.timer, "timer"), (self.wq, "wq")):
            if other is not None and offset < other + ASYNC_STRUCT_SIZE \
                    and other < offset + SPIN_LOCK_SIZE:
                _rule(f"the spin_lock overlaps the {what} struct", "spin_lock")

    def _check_fields(self) -> None:
        if self.fields and (self.type in KEYLESS or self.type == MapType.PROG_ARRAY):
            _rule(f"{self.type.value} maps cannot declare value fields", "fields")
        reserved = [(o, o + ASYNC_STRUCT_SIZE, w) for o, w in ((self.timer, "timer"),
                                                              (self.wq, "wq")) if o is not None]
        if self.spin_lock is not None:
            reserved.append((self.spin_lock, self.spin_lock + SPIN_LOCK_SIZE, "spin_lock"))
        for name, spec in self.fields.items():
            end = spec.offset + field_width(spec.type)
            if end > self.value_size:
                _rule(f"field '{name}' ends at byte {end}, past value_size {self.value_size}",
                      "fields", name, "offset")
            for start, stop, what in reserved:
                if spec.offset < stop and start < end:
                    _rule(f"field '{name}' overlaps the {what} struct", "fields", name,
                          "offset")

    def _check_entries(self) -> None:
        if self.entries and self.type != MapType.PROG_ARRAY:
            _rule("only prog_array maps have entries", "entries")
        for index in self.entries:
            if not 0 <= index < self.max_entries:
                _rule(f"index {index} is outside 0..{self.max_entries - 1}", "entries", index)

    def _check_init(self) -> None:
        if self.init and self.type not in INITIALISABLE:
            _rule(f"{self.type.value} maps cannot have initial contents", "init")
        if len(self.init) > self.max_entries:
            _rule(f"{len(self.init)} initial elements exceed max_entries {self.max_entries}",
                  "init")
        keys: set[bytes] = set()
        for i, item in enumerate(self.init):
            key = _encoded(item.key, self.key_size, "key", "init", i, "key")
            _encoded(item.value, self.value_size, "value", "init", i, "value")
            if self.type in ARRAY_LIKE and int.from_bytes(key, "little") >= self.max_entries:
                _rule(f"index {int.from_bytes(key, 'little')} is outside "
                      f"0..{self.max_entries - 1}", "init", i, "key")
            if key in keys:
                _rule("duplicate key in init", "init", i, "key")
            keys.add(key)


# --------------------------------------------------------------------------- hooks


class StartupHook(_Model):
    """Run once, in slot 0, before anything else."""

    on: Literal["startup"] = Field(description="Hook kind.")


class EveryHook(_Model):
    """Run periodically: in every slot that is a multiple of ``slots``."""

    on: Literal["every"] = Field(description="Hook kind.")
    slots: int = Field(ge=1, le=MAX_SLOTS, description="Period in slots.")


class WatchHook(_Model):
    """Run when a field of an account satisfies a condition after an account write."""

    on: Literal["watch"] = Field(description="Hook kind.")
    account: Name = Field(description="The watched account.")
    field: Name | None = Field(
        default=None,
        description="A named field of the account (its type is the field's); or give `offset` "
                    "and `type`.")
    offset: int | None = Field(default=None, ge=0, description="Byte offset of an unnamed field.")
    type: FieldType | None = Field(default=None, strict=False,
                                   description="Type of the unnamed field at `offset`.")
    op: WatchOp = Field(strict=False, description="Comparison: eq, ne, lt, le, gt, ge against "
                                                  "`value`; changed; change_bps with `bps`.")
    value: int | None = Field(default=None, description="Threshold for eq..ge.")
    bps: int | None = Field(default=None, ge=1, le=1_000_000,
                            description="For change_bps: minimum change in basis points.")

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if (self.field is None) == (self.offset is None):
            if self.field is not None:
                _rule("give exactly one of `field` or `offset`", "offset")
            _rule("give exactly one of `field` or `offset`")
        if self.field is not None and self.type is not None:
            _rule("`type` comes from the named field; omit it", "type")
        if self.offset is not None and self.type is None:
            _rule("an `offset` watch needs a `type`")
        if self.op in COMPARISONS:
            if self.value is None:
                _rule(f"op {self.op.value} needs a `value`", "op")
            if self.bps is not None:
                _rule("`bps` is only for op change_bps", "bps")
        elif self.op == WatchOp.CHANGED:
            for extra in ("value", "bps"):
                if getattr(self, extra) is not None:
                    _rule(f"op changed takes no `{extra}`", extra)
        else:
            if self.bps is None:
                _rule("op change_bps needs `bps`", "op")
            if self.value is not None:
                _rule("op change_bps takes `bps`, not `value`", "value")
        if self.type is not None and self.value is not None:
            _check_fits(self.value, self.type, "value")
        return self


class TimerHook(_Model):
    """Run only as a bpf_timer callback."""

    on: Literal["timer"] = Field(description="Hook kind.")


class WorkqueueHook(_Model):
    """Run only as a bpf_wq callback."""

    on: Literal["workqueue"] = Field(description="Hook kind.")


class RingbufHook(_Model):
    """Consume records of a ring buffer (the user-space consumer side, as a program)."""

    on: Literal["ringbuf"] = Field(description="Hook kind.")
    map: Name = Field(description="The ringbuf map consumed.")


class TailCallHook(_Model):
    """Run only as the target of a tail call through a prog_array."""

    on: Literal["tail_call"] = Field(description="Hook kind.")


Hook = Annotated[
    StartupHook | EveryHook | WatchHook | TimerHook | WorkqueueHook | RingbufHook | TailCallHook,
    Field(discriminator="on"),
]
"""What makes a program run; the ``on`` key selects the kind."""


# --------------------------------------------------------------------------- programs


#: Hooks a program with a ``program_type`` may run on (its entry gets the context).
CONTEXT_HOOKS: Final = ("startup", "every", "watch")


class Program(_Model):
    """A program: its code (exactly one of ``code``, ``hex``, ``elf``) and its hook."""

    code: str | None = Field(default=None, min_length=1,
                             description="Assembly text (either supported syntax).")
    hex: HexBytes | None = Field(default=None,
                                 description="Raw bytecode as hex bytes (8 per slot).")
    elf: str | None = Field(default=None, min_length=1,
                            description="Path of an ELF object, relative to the bundle file.")
    section: str | None = Field(default=None, min_length=1,
                                description="ELF section holding the program (with `elf`).")
    hook: Hook = Field(description="What makes the program run.")
    budget: int | None = Field(
        default=None, ge=1, le=MAX_INVOCATION_CU,
        description="Per-invocation CU override; must be <= budgets.per_invocation.")
    functions: Mapping[Name, PcOrLabel] = Field(
        default_factory=dict,
        description="Named callback entry points (pc or label) for timers, wq and bpf_loop.")
    program_type: ProgramType | None = Field(
        default=None, strict=False,
        description="Linux program type (linux profile): r1 is its context instead of the "
                    "input; socket_filter, sched_cls, xdp or tracing.")
    context_size: int | None = Field(
        default=None, ge=1, le=MAX_RAW_CONTEXT,
        description=f"Bytes of a tracing program's read-only raw context (default "
                    f"{DEFAULT_RAW_CONTEXT}).")

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        given = [k for k in ("code", "hex", "elf") if getattr(self, k) is not None]
        if len(given) != 1:
            where: tuple[str, ...] = (given[1],) if len(given) > 1 else ()
            _rule("give exactly one of `code`, `hex` or `elf`"
                  + (f" (found {', '.join(given)})" if given else ""), *where)
        if self.section is not None and self.elf is None:
            _rule("`section` is only meaningful with `elf`", "section")
        if self.hex is not None and (not self.hex or len(self.hex) % 8):
            _rule(f"bytecode has {len(self.hex)} bytes, not a positive multiple of 8", "hex")
        if self.context_size is not None and self.program_type is not ProgramType.TRACING:
            _rule("`context_size` is only for program_type tracing", "context_size")
        if self.program_type is not None and self.hook.on not in CONTEXT_HOOKS:
            _rule(f"a program of type {self.program_type.value} runs on a "
                  f"{', '.join(CONTEXT_HOOKS)} hook, not {self.hook.on}", "program_type")
        return self


# --------------------------------------------------------------------------- scenario


class AccountWrite(_Model):
    """The outside world writes account data at the start of a slot."""

    slot: int = Field(ge=0, le=MAX_SLOTS, description="Slot of the write (0-based).")
    account: Name = Field(description="The written account.")
    field: Name | None = Field(default=None, description="Named field written with `value`.")
    value: int | None = Field(default=None, description="Value written to `field`.")
    offset: int | None = Field(default=None, ge=0, description="Byte offset written with `hex`.")
    hex: HexBytes | None = Field(default=None, description="Bytes written at `offset`.")

    @model_validator(mode="after")
    def _shape(self) -> Self:
        if (self.field is None) == (self.offset is None):
            where = ("offset",) if self.field is not None else ()
            _rule("give exactly one of `field` (with `value`) or `offset` (with `hex`)", *where)
        if self.field is not None and self.hex is not None:
            _rule("a `field` write takes `value`, not `hex`", "hex")
        if self.field is not None and self.value is None:
            _rule("a `field` write needs a `value`")
        if self.offset is not None and self.value is not None:
            _rule("an `offset` write takes `hex`, not `value`", "value")
        if self.offset is not None and self.hex is None:
            _rule("an `offset` write needs `hex`")
        return self


DomainKey = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_]\w*\.[A-Za-z_]\w*$")]


class Domain(_Model):
    """The finite choices the explorer gives the environment for one account field."""

    values: list[int] = Field(min_length=1, description="Values the environment may write.")
    slots: list[int] | None = Field(default=None, min_length=1,
                                    description="Slots in which it may write; omitted: all.")

    @field_validator("values")
    @classmethod
    def _distinct_values(cls, values: list[int]) -> list[int]:
        _unique(values, "value")
        return values

    @field_validator("slots")
    @classmethod
    def _distinct_slots(cls, slots: list[int] | None) -> list[int] | None:
        if slots is not None:
            _unique(slots, "slot")
            for i, slot in enumerate(slots):
                if slot < 0:
                    _rule(f"slot {slot} is negative", i)
        return slots


class Packet(_Model):
    """The packet (or a tracing program's raw context) of one program's runs in one slot."""

    slot: int = Field(ge=0, le=MAX_SLOTS, description="Slot whose runs of it get the bytes.")
    hex: HexBytes = Field(description=f"The packet (at most {MAX_PACKET_SIZE} bytes), or a "
                                      "tracing program's raw context.")


class Scenario(_Model):
    """A concrete run: its length and the outside world's writes."""

    slots: int = Field(default=50, ge=1, le=MAX_SLOTS, description="Run length in slots.")
    writes: list[AccountWrite] = Field(
        default_factory=list,
        description="Account writes; within a slot they apply in list order.")
    domains: Mapping[DomainKey, Domain] = Field(
        default_factory=dict,
        description="Explorer choices per `account.field`: values and slots.")
    packets: Mapping[Name, list[Packet]] = Field(
        default_factory=dict,
        description="Packets by program (one with a `program_type`) and slot; its other runs "
                    "get an empty packet (a zero raw context).")


# --------------------------------------------------------------------------- properties


class Explore(_Model):
    """Bounded exploration of every interleaving by the model checker."""

    slots: int = Field(default=6, ge=1, le=64, description="Exploration depth in slots.")
    invariants: list[Annotated[ExploreInvariant, Strict(False)]] = Field(
        default_factory=lambda: list(ExploreInvariant),
        description="Catalogue invariants to check.")
    response_bound: int = Field(default=3, ge=1, le=64,
                                description="Slots within which bounded_response requires a "
                                            "triggered program to have run.")

    @field_validator("invariants")
    @classmethod
    def _distinct(cls, value: list[ExploreInvariant]) -> list[ExploreInvariant]:
        _unique(value, "invariant")
        return value


class UserInvariant(_Model):
    """An invariant written as an expression over account fields and map value fields."""

    name: Name = Field(description="Name used in reports.")
    expr: str = Field(min_length=1, description="Expression in the invariant grammar "
                                                "(see the module documentation).")

    @field_validator("expr")
    @classmethod
    def _parses(cls, expr: str) -> str:
        try:
            parse_expression(expr)
        except ExpressionError as err:
            raise PydanticCustomError("expression", "{reason}", {"reason": str(err)}) from None
        return expr


class Properties(_Model):
    """What spec-check should establish."""

    programs: list[Annotated[ProgramProperty, Strict(False)]] = Field(
        default_factory=lambda: list(ProgramProperty),
        description="Per-program properties for the static checker.")
    explore: Explore | None = Field(default=None, description="Run the explorer; omitted: do not.")
    invariants: list[UserInvariant] = Field(default_factory=list,
                                            description="User invariants for the explorer.")

    @field_validator("programs")
    @classmethod
    def _distinct(cls, value: list[ProgramProperty]) -> list[ProgramProperty]:
        _unique(value, "property")
        return value

    @field_validator("invariants")
    @classmethod
    def _distinct_names(cls, value: list[UserInvariant]) -> list[UserInvariant]:
        seen: set[str] = set()
        for i, item in enumerate(value):
            if item.name in seen:
                _rule(f"duplicate invariant name '{item.name}'", i, "name")
            seen.add(item.name)
        return value


def compute_state_bytes(bundle: Bundle) -> int:
    """Return the bytes a bundle's state holds from the start: ring buffers and accounts.

    Array and hash elements are created when used (at most ``max_entries`` each) and are not
    counted here.
    """
    rings = sum(m.max_entries for m in bundle.maps.values() if m.type == MapType.RINGBUF)
    return rings + sum(a.size for a in bundle.accounts.values())


# --------------------------------------------------------------------------- expressions


class ExpressionError(ValueError):
    """An invariant expression outside the grammar; ``column`` is 1-based in the text."""

    def __init__(self, reason: str, column: int) -> None:
        self.reason = reason
        self.column = column
        super().__init__(f"{reason} (at column {column} of the expression)")


@dataclass(frozen=True)
class Reference:
    """A name in an invariant: ``account.field`` (key None) or ``map[key].field``."""

    base: str
    key: int | None
    field: str
    column: int


#: Longest invariant expression accepted, in characters.
MAX_EXPRESSION_LENGTH = 1024
#: Deepest nesting of an invariant expression (operators, parentheses, references).
MAX_EXPRESSION_DEPTH = 100

_BINOPS = (ast.Add, ast.Sub, ast.Mult, ast.FloorDiv, ast.Mod, ast.BitAnd, ast.BitOr,
           ast.BitXor, ast.LShift, ast.RShift)
_CMPOPS = (ast.Eq, ast.NotEq, ast.Lt, ast.LtE, ast.Gt, ast.GtE)


def parse_expression(text: str) -> ast.Expression:
    """Parse an invariant expression and check it stays inside the grammar.

    Raises
    ------
    ExpressionError
        For a syntax error or any construct outside the grammar.
    """
    if "\n" in text.strip():
        raise ExpressionError("an expression must be on one line", 1)
    if len(text.strip()) > MAX_EXPRESSION_LENGTH:
        raise ExpressionError(f"an expression is limited to {MAX_EXPRESSION_LENGTH} "
                              "characters", MAX_EXPRESSION_LENGTH + 1)
    try:
        tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError as err:
        raise ExpressionError(f"syntax error: {err.msg}",
                              err.offset or len(text.strip()) + 1) from None
    except (RecursionError, MemoryError):
        raise ExpressionError(f"nesting deeper than {MAX_EXPRESSION_DEPTH} levels", 1) from None
    _check_depth(tree)
    for node in ast.walk(tree):
        _check_node(node)
    return tree


def _check_depth(tree: ast.Expression) -> None:
    """Refuse trees nested deeper than :data:`MAX_EXPRESSION_DEPTH` (walked without recursion).

    Every evaluator of invariants (explorer, proofs, reports) walks the tree recursively; the
    limit keeps them far from Python's recursion limit.
    """
    pending: list[tuple[ast.AST, int]] = [(tree.body, 1)]
    while pending:
        node, depth = pending.pop()
        if depth > MAX_EXPRESSION_DEPTH:
            raise ExpressionError(f"nesting deeper than {MAX_EXPRESSION_DEPTH} levels",
                                  getattr(node, "col_offset", 0) + 1)
        pending.extend((child, depth + 1) for child in ast.iter_child_nodes(node)
                       if isinstance(child, ast.expr))


def _check_node(node: ast.AST) -> None:
    allowed = (ast.Expression, ast.BoolOp, ast.And, ast.Or, ast.UnaryOp, ast.Not, ast.USub,
               ast.Invert, ast.BinOp, ast.Compare, ast.Load, *_BINOPS, *_CMPOPS)
    column = getattr(node, "col_offset", 0) + 1
    if isinstance(node, ast.Constant):
        if isinstance(node.value, bool) or not isinstance(node.value, int):
            raise ExpressionError(f"only integer literals are allowed, not {node.value!r}",
                                  column)
        return
    if isinstance(node, ast.Attribute):
        _reference(node)
        return
    if isinstance(node, ast.Name):
        # A bare name is legal only as the base of a reference, checked by _reference.
        return
    if isinstance(node, ast.Subscript):
        return
    if not isinstance(node, allowed):
        raise ExpressionError(f"'{type(node).__name__}' is not allowed in an invariant", column)


def _reference(node: ast.Attribute) -> Reference:
    column = node.col_offset + 1
    base = node.value
    if isinstance(base, ast.Name):
        return Reference(base.id, None, node.attr, column)
    if (isinstance(base, ast.Subscript) and isinstance(base.value, ast.Name)
            and isinstance(base.slice, ast.Constant) and isinstance(base.slice.value, int)
            and not isinstance(base.slice.value, bool) and base.slice.value >= 0):
        return Reference(base.value.id, base.slice.value, node.attr, column)
    raise ExpressionError("a name must be `account.field` or `map[KEY].field`", column)


def expression_references(tree: ast.Expression) -> list[Reference]:
    """Return the references of a parsed expression, in source order."""
    refs: list[Reference] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Name | ast.Subscript) and not _is_reference_part(tree, node):
            raise ExpressionError("a name must be `account.field` or `map[KEY].field`",
                                  node.col_offset + 1)
        if isinstance(node, ast.Attribute):
            refs.append(_reference(node))
    return sorted(refs, key=lambda r: r.column)


def _is_reference_part(tree: ast.Expression, target: ast.AST) -> bool:
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            if node.value is target:
                return True
            if isinstance(node.value, ast.Subscript) and node.value.value is target:
                return True
    return False


# --------------------------------------------------------------------------- bundle


@dataclass(frozen=True)
class SourcePosition:
    """Where something starts in a file: 1-based ``line``, and the ``column`` that column 1
    of a code block's dedented text falls on."""

    file: str
    line: int
    column: int = 1
    #: A block scalar (``code: |``): its lines are the file's lines. Otherwise the text is one
    #: (quoted or plain) scalar and every position maps to where the scalar starts.
    block: bool = True


class Bundle(_Model):
    """A ``program.yaml`` bundle: everything ``spec-check`` needs to check a system.

    The loader records where each program's ``code`` text starts in the bundle file
    (:meth:`code_position`), so that assembly errors and findings name the bundle's lines.
    """

    _code_positions: dict[str, SourcePosition] = PrivateAttr(default_factory=dict)

    def code_position(self, program: str) -> SourcePosition | None:
        """Return where the first line of ``programs.<program>.code`` is, if known."""
        return self._code_positions.get(program)

    def locate_code(self, program: str, line: int | None, column: int | None,
                    ) -> tuple[str, int | None, int | None] | None:
        """Return ``(file, line, column)`` in the bundle of a position in a program's code."""
        start = self.code_position(program)
        if start is None:
            return None
        if not start.block:
            return start.file, start.line, start.column
        return (start.file, None if line is None else start.line + line - 1,
                None if column is None else start.column + column - 1)

    arspec: int = Field(description=f"Format version; must be {FORMAT_VERSION}.")
    name: str | None = Field(default=None, min_length=1, description="Human-readable name.")
    profile: Profile = Field(default=Profile.SOLANA, strict=False,
                             description="solana (consensus: deterministic helpers only) or "
                                         "linux.")
    preset: PresetName = Field(default=PresetName.LINUX_LIKE, strict=False,
                               description="Table of limits: minimal or linux_like.")
    budgets: Budgets = Field(default_factory=lambda: Budgets(), description="Compute-unit budgets.")
    accounts: Mapping[Name, Account] = Field(
        default_factory=dict, max_length=MAX_NAMED_ITEMS,
        description=f"Accounts of the outside world. Account data and ring buffers together "
                    f"hold at most {MAX_STATE_BYTES} bytes (explore: at most 1048576).")
    maps: Mapping[Name, MapSpec] = Field(
        default_factory=dict, max_length=MAX_NAMED_ITEMS,
        description="Maps, in id order (the first is map 0).")
    programs: Mapping[Name, Program] = Field(
        min_length=1, max_length=MAX_NAMED_ITEMS,
        description="Programs, in id order (the first is program 0).")
    scenario: Scenario = Field(default_factory=lambda: Scenario(), description="A concrete run.")
    properties: Properties = Field(default_factory=lambda: Properties(),
                                   description="What spec-check should establish.")

    @field_validator("arspec")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != FORMAT_VERSION:
            raise PydanticCustomError(
                "bundle_rule", "{reason}",
                {"reason": f"unsupported format version {value}; this arspec reads version "
                           f"{FORMAT_VERSION}", "at": ()})
        return value

    @model_validator(mode="after")
    def _cross_references(self) -> Self:
        self._check_state_bytes()
        self._check_namespaces()
        self._check_programs()
        self._check_prog_arrays()
        self._check_scenario()
        self._check_invariants()
        return self

    def _check_state_bytes(self) -> None:
        total = compute_state_bytes(self)
        if total > MAX_STATE_BYTES:
            where = ("accounts",) if self.accounts else ("maps",)
            _rule(f"accounts and ring buffers hold {total} bytes; a bundle may hold at most "
                  f"{MAX_STATE_BYTES} (run and explore keep and copy them in memory)", *where)

    def _check_namespaces(self) -> None:
        for name in self.maps:
            if name in self.accounts:
                _rule(f"'{name}' names both a map and an account; invariants could not tell "
                      "them apart", "maps", name)

    def _check_programs(self) -> None:
        callees = {name for m in self.maps.values() for name in m.entries.values()}
        for name, prog in self.programs.items():
            at = ("programs", name)
            if prog.program_type is not None and self.profile is not Profile.LINUX:
                _rule("a program_type needs profile linux", *at, "program_type")
            if prog.budget is not None and prog.budget > self.budgets.per_invocation:
                _rule(f"budget {prog.budget} exceeds budgets.per_invocation "
                      f"({self.budgets.per_invocation})", *at, "budget")
            hook = prog.hook
            if isinstance(hook, WatchHook):
                self._check_watch(hook, (*at, "hook"))
            elif isinstance(hook, RingbufHook):
                spec = self.maps.get(hook.map)
                if spec is None:
                    _rule(f"map '{hook.map}' is not declared", *at, "hook", "map")
                if spec.type != MapType.RINGBUF:
                    _rule(f"map '{hook.map}' is a {spec.type.value}, not a ringbuf", *at,
                          "hook", "map")
            elif isinstance(hook, TailCallHook) and name not in callees:
                _rule(f"program '{name}' runs only by tail call but no prog_array entry names "
                      "it", *at, "hook")
            elif isinstance(hook, TimerHook | WorkqueueHook):
                which = "timer" if isinstance(hook, TimerHook) else "wq"
                if not any(getattr(m, which) is not None for m in self.maps.values()):
                    _rule(f"program '{name}' runs only as a {which} callback but no map value "
                          f"holds a {which}", *at, "hook")

    def _check_packets(self) -> None:
        for name, packets in self.scenario.packets.items():
            prog = self.programs.get(name)
            if prog is None:
                _rule(f"program '{name}' is not declared", "scenario", "packets", name)
            if prog.program_type is None:
                _rule(f"program '{name}' has no program_type", "scenario", "packets", name)
            self._check_program_packets(prog, packets, ("scenario", "packets", name))

    def _check_program_packets(self, prog: Program, packets: list[Packet],
                               where: tuple[str, ...]) -> None:
        seen: set[int] = set()
        for i, packet in enumerate(packets):
            at: tuple[str | int, ...] = (*where, i)
            if packet.slot >= self.scenario.slots:
                _rule(f"slot {packet.slot} is past the run (scenario.slots = "
                      f"{self.scenario.slots})", *at, "slot")
            limit = (prog.context_size or DEFAULT_RAW_CONTEXT
                     if prog.program_type is ProgramType.TRACING else MAX_PACKET_SIZE)
            if len(packet.hex) > limit:
                _rule(f"{len(packet.hex)} bytes exceed the {limit} a "
                      f"{prog.program_type} program takes", *at, "hex")
            if packet.slot in seen:
                _rule(f"a second packet in slot {packet.slot}", *at, "slot")
            seen.add(packet.slot)

    def _check_watch(self, hook: WatchHook, at: tuple[str | int, ...]) -> None:
        account = self.accounts.get(hook.account)
        if account is None:
            _rule(f"account '{hook.account}' is not declared", *at, "account")
        if hook.field is not None:
            spec = account.fields.get(hook.field)
            if spec is None:
                _rule(f"account '{hook.account}' has no field '{hook.field}'", *at, "field")
            if hook.value is not None:
                _check_fits(hook.value, spec.type, *at, "value")
        elif hook.offset is not None and hook.type is not None:
            end = hook.offset + field_width(hook.type)
            if end > account.size:
                _rule(f"watched bytes end at {end}, past the account size {account.size}",
                      *at, "offset")

    def _check_prog_arrays(self) -> None:
        for name, spec in self.maps.items():
            for index, target in spec.entries.items():
                if target not in self.programs:
                    _rule(f"program '{target}' is not declared", "maps", name, "entries",
                          index)

    def _account_field(self, ref: str, *at: str | int) -> AccountField:
        account_name, _, field_name = ref.partition(".")
        account = self.accounts.get(account_name)
        if account is None:
            _rule(f"account '{account_name}' is not declared", *at)
        spec = account.fields.get(field_name)
        if spec is None:
            _rule(f"account '{account_name}' has no field '{field_name}'", *at)
        return spec

    def _check_scenario(self) -> None:
        end = self.scenario.slots
        self._check_packets()
        for i, write in enumerate(self.scenario.writes):
            at: tuple[str | int, ...] = ("scenario", "writes", i)
            if write.slot >= end:
                _rule(f"slot {write.slot} is not before the end of the run "
                      f"(scenario.slots = {end})", *at, "slot")
            if write.account not in self.accounts:
                _rule(f"account '{write.account}' is not declared", *at, "account")
            if write.field is not None and write.value is not None:
                spec = self._account_field(f"{write.account}.{write.field}", *at, "field")
                _check_fits(write.value, spec.type, *at, "value")
            elif write.offset is not None and write.hex is not None:
                size = self.accounts[write.account].size
                if write.offset + len(write.hex) > size:
                    _rule(f"write of {len(write.hex)} bytes at offset {write.offset} goes past "
                          f"the account size {size}", *at, "offset")
        for key, domain in self.scenario.domains.items():
            at = ("scenario", "domains", key)
            spec = self._account_field(key, *at)
            for i, value in enumerate(domain.values):
                _check_fits(value, spec.type, *at, "values", i)
            for i, slot in enumerate(domain.slots or ()):
                if slot >= end:
                    _rule(f"slot {slot} is not before the end of the run "
                          f"(scenario.slots = {end})", *at, "slots", i)

    def _check_invariants(self) -> None:
        for i, inv in enumerate(self.properties.invariants):
            at = ("properties", "invariants", i, "expr")
            try:
                refs = expression_references(parse_expression(inv.expr))
            except ExpressionError as err:  # pragma: no cover - UserInvariant checked it
                _rule(str(err), *at)
            for ref in refs:
                self._check_reference(ref, at)

    def _check_reference(self, ref: Reference, at: tuple[str | int, ...]) -> None:
        where = f" (at column {ref.column} of the expression)"
        if ref.key is None:
            account = self.accounts.get(ref.base)
            if account is None:
                hint = (f"; map values are written {ref.base}[KEY].{ref.field}"
                        if ref.base in self.maps else "")
                _rule(f"account '{ref.base}' is not declared{hint}{where}", *at)
            if ref.field not in account.fields:
                _rule(f"account '{ref.base}' has no field '{ref.field}'{where}", *at)
            return
        spec = self.maps.get(ref.base)
        if spec is None:
            _rule(f"map '{ref.base}' is not declared{where}", *at)
        if ref.field not in spec.fields:
            _rule(f"map '{ref.base}' has no value field '{ref.field}'{where}", *at)
        if spec.type in ARRAY_LIKE and ref.key >= spec.max_entries:
            _rule(f"index {ref.key} is outside 0..{spec.max_entries - 1} of map "
                  f"'{ref.base}'{where}", *at)
        if spec.type in HASH_LIKE and ref.key >= 1 << (8 * spec.key_size):
            _rule(f"key {ref.key} does not fit in key_size {spec.key_size}{where}", *at)


def bundle_json_schema() -> dict[str, Any]:
    """Return the JSON Schema of a bundle, for editors and the generated docs.

    The result is deterministic: properties keep declaration order and ``$defs`` are
    sorted by name.
    """
    schema = Bundle.model_json_schema(mode="validation")
    defs = schema.pop("$defs", {})
    _drop_fixed_size_requirements(defs.get("MapSpec", {}))
    _fill_descriptions(schema, Bundle)
    for name, definition in defs.items():
        model = getattr(_this_module, name, None)
        if isinstance(model, type) and issubclass(model, BaseModel):
            _fill_descriptions(definition, model)
    _close_pattern_objects(schema)
    _close_pattern_objects(defs)
    result: dict[str, Any] = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": "https://arspec.dev/schema/program-bundle-v1.json",
    }
    result.update(schema)
    result["$defs"] = {name: defs[name] for name in sorted(defs)}
    return result


def _drop_fixed_size_requirements(spec: dict[str, Any]) -> None:
    # key_size and value_size are filled in for types with fixed sizes, so an editor must not
    # demand them; the loader still reports them missing for the types that need them.
    required = spec.get("required")
    if isinstance(required, list):
        spec["required"] = [k for k in required if k not in ("key_size", "value_size")]


def _fill_descriptions(definition: dict[str, Any], model: type[BaseModel]) -> None:
    # Pydantic leaves the description off some `$ref` properties (e.g. one named
    # "properties"); every field has one, so copy it from the model.
    for name, prop in definition.get("properties", {}).items():
        info = model.model_fields.get(name)
        if info is not None and info.description and "description" not in prop:
            prop["description"] = info.description


def _close_pattern_objects(node: Any) -> None:
    # A name-keyed mapping lists its allowed names as patternProperties; other names are
    # errors, as they are for the models.
    if isinstance(node, dict):
        if "patternProperties" in node and "additionalProperties" not in node:
            node["additionalProperties"] = False
        for value in node.values():
            _close_pattern_objects(value)
    elif isinstance(node, list):
        for value in node:
            _close_pattern_objects(value)


_this_module = sys.modules[__name__]
