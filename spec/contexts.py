"""
Program types and their contexts
================================

In the ``linux`` profile a program may declare its Linux program type; ``r1`` then holds a
pointer to that type's *context* instead of the plain input, and ``r2``-``r5`` hold nothing
a program may read (Linux passes only the context). This module states, per type, which
bytes of the context a program may read or write and with which access sizes, what each
field holds, and how the runtime builds the context from a scenario's packet.

The types (``enum bpf_prog_type`` number in parentheses, used when a case is loaded into a
live kernel):

``socket_filter`` (1)
    ``struct __sk_buff`` (include/uapi/linux/bpf.h). No direct packet access: ``data``,
    ``data_end``, ``data_meta``, ``tc_classid`` and the socket and time-stamp fields are not
    readable; only ``cb[0..4]`` is writable (``sk_filter_is_valid_access`` in
    net/core/filter.c). The packet is read by legacy ``ldabs``/``ldind`` loads.
``sched_cls`` (3)
    ``struct __sk_buff`` with direct packet access through ``data``/``data_end``/
    ``data_meta``; writable: ``mark``, ``queue_mapping``, ``priority``, ``tc_index``,
    ``cb``, ``tc_classid`` and ``tstamp`` (``tc_cls_act_is_valid_access``).
``xdp`` (6)
    ``struct xdp_md``: ``data``, ``data_end``, ``data_meta``, ``ingress_ifindex``,
    ``rx_queue_index``, each read with a 4-byte load, nothing writable
    (``xdp_is_valid_access``; ``egress_ifindex`` only for devmap programs, not modelled).
``tracing`` (2, ``kprobe``)
    A raw read-only context of ``context_size`` bytes (``struct pt_regs``, 168 bytes on
    x86-64, for a kprobe): any load of 1, 2, 4 or 8 bytes aligned to its size and inside
    the context (``kprobe_prog_is_valid_access`` in kernel/trace/bpf_trace.c).

Access rule (``bpf_skb_is_valid_access`` and ``bpf_ctx_narrow_access_ok``): an access of
``size`` bytes at ``offset`` is allowed exactly when one field of the type contains all its
bytes, ``offset`` is a multiple of ``size``, and ``size`` is one of the field's read (or
write) sizes. A 32-bit scalar field may be read whole or *narrowly* (1 or 2 bytes at any
aligned offset inside it) but written only whole; ``cb`` takes every size; the pointer
fields ``data``, ``data_end`` and ``data_meta`` only a 4-byte load at their own offset.
Anything else is a load-time rejection in Linux and a memory fault in arspec's runtime (so
the verifier's finding replays). A context access must go through ``r1``'s context pointer
unmodified, with a constant offset, as in Linux ("dereference of modified ctx ptr").

Pointer fields: a 4-byte load of ``data`` yields the 64-bit address of the first packet
byte, ``data_end`` the address one past the last, ``data_meta`` the same address as
``data`` (arspec's runtime gives no metadata area). A packet access through ``data`` is
safe only where the program compared the pointer with ``data_end``: the packet's length is
unknown to the program otherwise (the verifier assumes any length up to
:data:`MAX_PACKET_SIZE`, the ``MAX_PACKET_OFF`` of kernel/bpf/verifier.c).

Linux's other load-time rules (:data:`LINUX_RULES`) also bind a program that declares a type:
Linux refuses such a program even where arspec's runtime would run it without a fault, so
the verifier never proves it (the finding is UNKNOWN: nothing replays).

Field values built by the runtime from the scenario's packet (the spec's choice where Linux
takes them from the device): ``len`` is the packet length, ``protocol`` the Ethernet type
(bytes 12-13 as stored, network byte order) of a packet of at least 14 bytes; every other
scalar field, ``sk`` included, starts at zero (arspec's runtime has no sockets, devices or
clocks). The verifier does not rely on these values: a program must cope with any.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Final


class ProgramType(StrEnum):
    """A Linux program type a bundle program may declare."""

    SOCKET_FILTER = "socket_filter"
    SCHED_CLS = "sched_cls"
    XDP = "xdp"
    TRACING = "tracing"


class FieldKind(StrEnum):
    """What a load of a context field yields."""

    SCALAR = "scalar"
    PACKET = "packet"
    PACKET_END = "packet_end"
    PACKET_META = "packet_meta"


@dataclass(frozen=True)
class ContextField:
    """One field: its bytes ``[offset, offset + size)``, its kind and allowed access sizes."""

    name: str
    offset: int
    size: int
    kind: FieldKind
    reads: frozenset[int]
    writes: frozenset[int] = frozenset()


#: ``enum bpf_prog_type`` value of each type (``tracing`` is loaded as a kprobe).
KERNEL_PROGRAM_TYPES: Final[Mapping[ProgramType, int]] = {
    ProgramType.SOCKET_FILTER: 1, ProgramType.TRACING: 2, ProgramType.SCHED_CLS: 3,
    ProgramType.XDP: 6,
}
#: Largest packet the verifier considers (``MAX_PACKET_OFF``, kernel/bpf/verifier.c).
MAX_PACKET_SIZE: Final = 0xFFFF
#: Largest raw context a ``tracing`` program may declare.
MAX_RAW_CONTEXT: Final = 4096
#: ``sizeof(struct pt_regs)`` on x86-64: the default raw context (a kprobe's).
DEFAULT_RAW_CONTEXT: Final = 168
#: ``sizeof(struct __sk_buff)`` and ``sizeof(struct xdp_md)`` (include/uapi/linux/bpf.h).
SK_BUFF_SIZE: Final = 192
XDP_MD_SIZE: Final = 24

_NARROW: Final = frozenset({1, 2, 4})
_WORD: Final = frozenset({4})
_ANY: Final = frozenset({1, 2, 4, 8})
_DWORD: Final = frozenset({8})


def _u32(name: str, offset: int, *, writes: frozenset[int] = frozenset()) -> ContextField:
    return ContextField(name, offset, 4, FieldKind.SCALAR, _NARROW, writes)


#: ``struct __sk_buff`` fields a socket filter may access.
SOCKET_FILTER_FIELDS: Final = (
    _u32("len", 0), _u32("pkt_type", 4), _u32("mark", 8), _u32("queue_mapping", 12),
    _u32("protocol", 16), _u32("vlan_present", 20), _u32("vlan_tci", 24),
    _u32("vlan_proto", 28), _u32("priority", 32), _u32("ingress_ifindex", 36),
    _u32("ifindex", 40), _u32("tc_index", 44),
    ContextField("cb", 48, 20, FieldKind.SCALAR, _ANY, _ANY),
    _u32("hash", 68), _u32("napi_id", 84), _u32("gso_segs", 164),
    ContextField("sk", 168, 8, FieldKind.SCALAR, _DWORD), _u32("gso_size", 176),
)

#: ``struct __sk_buff`` fields a ``sched_cls`` program may access.
SCHED_CLS_FIELDS: Final = (
    _u32("len", 0), _u32("pkt_type", 4), _u32("mark", 8, writes=_WORD),
    _u32("queue_mapping", 12, writes=_WORD), _u32("protocol", 16), _u32("vlan_present", 20),
    _u32("vlan_tci", 24), _u32("vlan_proto", 28), _u32("priority", 32, writes=_WORD),
    _u32("ingress_ifindex", 36), _u32("ifindex", 40), _u32("tc_index", 44, writes=_WORD),
    ContextField("cb", 48, 20, FieldKind.SCALAR, _ANY, _ANY),
    _u32("hash", 68), _u32("tc_classid", 72, writes=_WORD),
    ContextField("data", 76, 4, FieldKind.PACKET, _WORD),
    ContextField("data_end", 80, 4, FieldKind.PACKET_END, _WORD),
    _u32("napi_id", 84),
    ContextField("data_meta", 140, 4, FieldKind.PACKET_META, _WORD),
    ContextField("tstamp", 152, 8, FieldKind.SCALAR, _DWORD, _DWORD),
    _u32("wire_len", 160), _u32("gso_segs", 164),
    ContextField("sk", 168, 8, FieldKind.SCALAR, _DWORD), _u32("gso_size", 176),
    ContextField("tstamp_type", 180, 1, FieldKind.SCALAR, frozenset({1})),
    ContextField("hwtstamp", 184, 8, FieldKind.SCALAR, _DWORD),
)

#: ``struct xdp_md`` fields an XDP program may access.
XDP_FIELDS: Final = (
    ContextField("data", 0, 4, FieldKind.PACKET, _WORD),
    ContextField("data_end", 4, 4, FieldKind.PACKET_END, _WORD),
    ContextField("data_meta", 8, 4, FieldKind.PACKET_META, _WORD),
    ContextField("ingress_ifindex", 12, 4, FieldKind.SCALAR, _WORD),
    ContextField("rx_queue_index", 16, 4, FieldKind.SCALAR, _WORD),
)


@dataclass(frozen=True)
class ContextLayout:
    """A program type's context: its size, fields and whether it has a packet."""

    program_type: ProgramType
    size: int
    fields: tuple[ContextField, ...]
    #: The program receives a packet (read by ``ldabs``/``ldind`` or through ``data``).
    has_packet: bool

    def field_at(self, offset: int) -> ContextField | None:
        """Return the field holding byte ``offset``, if any."""
        for f in self.fields:
            if f.offset <= offset < f.offset + f.size:
                return f
        return None


def get_context_layout(program_type: ProgramType,
                       context_size: int = DEFAULT_RAW_CONTEXT) -> ContextLayout:
    """Return the context of ``program_type`` (``context_size`` only for ``tracing``)."""
    if program_type is ProgramType.SOCKET_FILTER:
        return ContextLayout(program_type, SK_BUFF_SIZE, SOCKET_FILTER_FIELDS, True)
    if program_type is ProgramType.SCHED_CLS:
        return ContextLayout(program_type, SK_BUFF_SIZE, SCHED_CLS_FIELDS, True)
    if program_type is ProgramType.XDP:
        return ContextLayout(program_type, XDP_MD_SIZE, XDP_FIELDS, True)
    # Verify the raw context's size is one a program may declare.
    assert 1 <= context_size <= MAX_RAW_CONTEXT, context_size
    raw = ContextField("raw", 0, context_size, FieldKind.SCALAR, _ANY)
    return ContextLayout(program_type, context_size, (raw,), False)


def get_allowed_field(layout: ContextLayout, offset: int, size: int, *,
                      write: bool) -> ContextField | None:
    """Return the field an access of ``size`` bytes at ``offset`` may use, else ``None``.

    The rule of the module docstring: one field holds every byte, ``offset`` is aligned to
    ``size``, and ``size`` is among the field's read (or write) sizes.
    """
    if size not in (1, 2, 4, 8) or offset < 0 or offset % size:
        return None
    f = layout.field_at(offset)
    if f is None or offset + size > f.offset + f.size:
        return None
    return f if size in (f.writes if write else f.reads) else None


def is_access_allowed(layout: ContextLayout, offset: int, size: int, *, write: bool) -> bool:
    """Return whether the program type lets a program make this context access."""
    return get_allowed_field(layout, offset, size, write=write) is not None


def get_allowed_offsets(layout: ContextLayout, size: int, *, write: bool) -> list[int]:
    """Return every offset at which an access of ``size`` bytes is allowed, ascending."""
    return [o for o in range(layout.size)
            if is_access_allowed(layout, o, size, write=write)]


def compute_context_bytes(layout: ContextLayout, packet: bytes,
                          raw: bytes = b"") -> bytearray:
    """Return the context's initial bytes for one invocation on ``packet``.

    ``len`` and ``protocol`` come from the packet, every other field is zero; a ``tracing``
    context holds ``raw`` (zero-padded or cut to the context's size). Pointer fields hold
    zero here: their loads yield addresses (see the module docstring), not these bytes.
    """
    data = bytearray(layout.size)
    if not layout.has_packet:
        data[:len(raw)] = raw[:layout.size]
        return data
    if layout.program_type is not ProgramType.XDP:
        data[0:4] = len(packet).to_bytes(4, "little")
        if len(packet) >= 14:
            data[16:18] = packet[12:14]
    return data


#: Linux verifier rules (kernel/bpf/verifier.c) that a program of a declared type must keep
#: although breaking them faults nowhere in arspec: ``name -> what the rule says``.
LINUX_RULES: Final[Mapping[str, str]] = {
    "pointer_operator": "only + and - may take a pointer operand (adjust_ptr_min_max_vals: "
                        "\"pointer arithmetic with <op> operator prohibited\")",
    "pointer_alu32": "no 32-bit arithmetic on a pointer (\"32-bit pointer arithmetic "
                     "prohibited\")",
    "pointer_plus_pointer": "a pointer is never added to a pointer (\"pointer += pointer "
                            "prohibited\")",
    "stack_subtraction": "a scalar is never subtracted from a stack pointer (\"subtraction "
                         "from stack pointer prohibited\")",
    "fixed_pointer": "no arithmetic on data_end, a map reference, a pointer that may be NULL "
                     "or a code address (\"pointer arithmetic on <type> prohibited\")",
    "stack_alignment": "stack accesses are aligned to their size (\"misaligned stack "
                       "access\"; strict whatever the machine)",
    "spill_size": "a pointer is spilled to the stack with an 8-byte store (\"invalid size "
                  "of register spill\")",
    "tail_call_context": "bpf_tail_call takes the context in r1 (\"R1 type=<t> "
                         "expected=ctx\")",
    "pointer_field_sign": "a pointer field of the context is not read by a sign-extending "
                          "load (\"invalid bpf_context access\")",
}
