"""
C header
========

``arspec/sol.h`` lets a user write an autonomous program in C, compile it with stock
``clang -O2 -g -target bpf -c`` and load the object through ``elf:`` in program.yaml. It is
generated from the spec's tables by :func:`render_header` and installed with the package
(package data of ``arspec.reference``); ``spec-check include-dir`` prints the directory to
pass to ``-I`` (:func:`get_include_dir`).

What it declares
----------------
* Maps in libbpf's ``SEC(".maps")`` style: ``__uint``, ``__type``, the map types arspec
  models, and ``struct bpf_timer`` / ``bpf_wq`` / ``bpf_spin_lock`` / ``bpf_dynptr`` /
  ``bpf_iter_num`` (Linux's layouts, ``include/uapi/linux/bpf.h``) unless ``<linux/bpf.h>``
  was included first.
* Every helper and syscall as a constant function pointer, the way libbpf's
  ``bpf_helper_defs.h`` and Solana's C SDK declare them:
  ``static long (*const sol_timer_start)(struct bpf_timer *, __u64, __u64) = (void *) 0x...;``.
  clang turns a call through it into ``call imm`` with that immediate. In the ``solana``
  profile (the default) the immediate is ``murmur3_32(name)``, which the loader resolves as
  Agave does; compiled with ``-DARSPEC_PROFILE_LINUX`` the Linux helpers get their Linux ids
  (and the ``sol_*`` aliases their target's id), and the Agave syscalls are not declared.
* ``SEC`` names for hooks (``SOL_STARTUP``, ``SOL_EVERY``, ``SOL_WATCH``, ``SOL_RINGBUF``,
  ``SOL_TIMER``, ``SOL_WORKQUEUE``); the bundle still names each program's ``section``.
* ``struct sol_watch_criteria`` and its ``SOL_WATCH_*`` op codes
  (:mod:`arspec.spec.runtime_watchers`).

The spin-lock and dynamic-pointer helpers (Linux ids 93, 94, 197-203) are declared too, by
their Linux ids and name hashes, whether or not this runtime binds them yet.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Final

from arspec.reference.isa.murmur3 import murmur3_32
from arspec.spec.helpers import HELPER_TABLE, HELPERS_BY_NAME
from arspec.spec.runtime_watchers import WATCH_CRITERIA_SIZE, WATCH_OP_CODES
from arspec.spec.syscalls import AGAVE_SYSCALLS, SOL_ALIASES

#: Where the header lives inside the installed package.
INCLUDE_DIR: Final = Path(__file__).resolve().parent / "include"
HEADER_PATH: Final = INCLUDE_DIR / "arspec" / "sol.h"

#: Linux helpers the header declares that the helper table may not have yet, by their
#: ``enum bpf_func_id`` values (Linux ``include/uapi/linux/bpf.h``).
LINUX_ONLY_IDS: Final[dict[str, int]] = {
    "bpf_spin_lock": 93,
    "bpf_spin_unlock": 94,
    "bpf_dynptr_from_mem": 197,
    "bpf_ringbuf_reserve_dynptr": 198,
    "bpf_ringbuf_submit_dynptr": 199,
    "bpf_ringbuf_discard_dynptr": 200,
    "bpf_dynptr_read": 201,
    "bpf_dynptr_write": 202,
    "bpf_dynptr_data": 203,
}

#: C prototypes (return type, parameters) by helper or syscall name.
PROTOTYPES: Final[dict[str, tuple[str, str]]] = {
    "bpf_map_lookup_elem": ("void *", "void *map, const void *key"),
    "bpf_map_update_elem": ("long", "void *map, const void *key, const void *value, "
                                    "__u64 flags"),
    "bpf_map_delete_elem": ("long", "void *map, const void *key"),
    "bpf_ktime_get_ns": ("__u64", "void"),
    "bpf_trace_printk": ("long", "const char *fmt, __u32 fmt_size, ..."),
    "bpf_get_prandom_u32": ("__u32", "void"),
    "bpf_get_smp_processor_id": ("__u32", "void"),
    "bpf_tail_call": ("long", "void *ctx, void *prog_array, __u32 index"),
    "bpf_map_push_elem": ("long", "void *map, const void *value, __u64 flags"),
    "bpf_map_pop_elem": ("long", "void *map, void *value"),
    "bpf_map_peek_elem": ("long", "void *map, void *value"),
    "bpf_spin_lock": ("long", "struct bpf_spin_lock *lock"),
    "bpf_spin_unlock": ("long", "struct bpf_spin_lock *lock"),
    "bpf_ktime_get_boot_ns": ("__u64", "void"),
    "bpf_ringbuf_output": ("long", "void *ring, void *data, __u64 size, __u64 flags"),
    "bpf_ringbuf_reserve": ("void *", "void *ring, __u64 size, __u64 flags"),
    "bpf_ringbuf_submit": ("void", "void *record, __u64 flags"),
    "bpf_ringbuf_discard": ("void", "void *record, __u64 flags"),
    "bpf_ringbuf_query": ("__u64", "void *ring, __u64 flag"),
    "bpf_ktime_get_coarse_ns": ("__u64", "void"),
    "bpf_timer_init": ("long", "struct bpf_timer *timer, void *map, __u64 flags"),
    "bpf_timer_set_callback": ("long", "struct bpf_timer *timer, void *callback"),
    "bpf_timer_start": ("long", "struct bpf_timer *timer, __u64 slots, __u64 flags"),
    "bpf_timer_cancel": ("long", "struct bpf_timer *timer"),
    "bpf_loop": ("long", "__u32 nr_loops, void *callback, void *ctx, __u64 flags"),
    "bpf_dynptr_from_mem": ("long", "void *data, __u32 size, __u64 flags, "
                                    "struct bpf_dynptr *ptr"),
    "bpf_ringbuf_reserve_dynptr": ("long", "void *ring, __u32 size, __u64 flags, "
                                           "struct bpf_dynptr *ptr"),
    "bpf_ringbuf_submit_dynptr": ("void", "struct bpf_dynptr *ptr, __u64 flags"),
    "bpf_ringbuf_discard_dynptr": ("void", "struct bpf_dynptr *ptr, __u64 flags"),
    "bpf_dynptr_read": ("long", "void *dst, __u32 len, const struct bpf_dynptr *src, "
                                "__u32 offset, __u64 flags"),
    "bpf_dynptr_write": ("long", "const struct bpf_dynptr *dst, __u32 offset, void *src, "
                                 "__u32 len, __u64 flags"),
    "bpf_dynptr_data": ("void *", "const struct bpf_dynptr *ptr, __u32 offset, __u32 len"),
    "bpf_ktime_get_tai_ns": ("__u64", "void"),
    "arspec_get_slot": ("__u64", "void"),
    "arspec_account_read": ("long", "__u64 account, __u64 offset, void *buf, __u64 size"),
    "arspec_account_write": ("long", "__u64 account, __u64 offset, const void *buf, "
                                     "__u64 size"),
    "bpf_wq_init": ("long", "struct bpf_wq *wq, void *map, __u64 flags"),
    "bpf_wq_set_callback": ("long", "struct bpf_wq *wq, void *callback, __u64 flags"),
    "bpf_wq_start": ("long", "struct bpf_wq *wq, __u64 flags"),
    "bpf_iter_num_new": ("long", "struct bpf_iter_num *it, int start, int end"),
    "bpf_iter_num_next": ("int *", "struct bpf_iter_num *it"),
    "bpf_iter_num_destroy": ("void", "struct bpf_iter_num *it"),
    "arspec_log": ("long", "const void *buf, __u64 size"),
    "sol_watch_account": ("long", "const struct sol_watch_criteria *criteria, __u64 size, "
                                  "void *callback, __u64 flags"),
    "sol_unwatch_account": ("long", "__u64 watcher_id"),
    "sol_log_": ("void", "const char *text, __u64 len"),
    "sol_log_64_": ("void", "__u64 a, __u64 b, __u64 c, __u64 d, __u64 e"),
    "sol_log_compute_units_": ("void", "void"),
    "sol_log_pubkey": ("void", "const __u8 *pubkey"),
    "sol_log_data": ("void", "const struct sol_bytes *fields, __u64 count"),
    "sol_panic_": ("void", "const char *file, __u64 len, __u64 line, __u64 column"),
    "abort": ("void", "void"),
    "sol_memcpy_": ("void", "void *dst, const void *src, __u64 n"),
    "sol_memmove_": ("void", "void *dst, const void *src, __u64 n"),
    "sol_memset_": ("void", "void *dst, __u64 byte, __u64 n"),
    "sol_memcmp_": ("void", "const void *a, const void *b, __u64 n, int *result"),
    "sol_sha256": ("long", "const struct sol_bytes *slices, __u64 count, __u8 *digest"),
    "sol_keccak256": ("long", "const struct sol_bytes *slices, __u64 count, __u8 *digest"),
    "sol_get_clock_sysvar": ("long", "struct sol_clock *clock"),
}

_PRELUDE: Final = """\
/* arspec/sol.h -- write arspec autonomous programs in C.
 *
 * Generated from arspec's spec tables by arspec.reference.runtime.c_header; do not edit.
 * Compile:  clang -O2 -g -target bpf -I"$(spec-check include-dir)" -c prog.c -o prog.o
 * Profiles: solana (default) calls every helper by murmur3_32(name), as Agave resolves
 *           syscalls; -DARSPEC_PROFILE_LINUX calls Linux helpers by their Linux ids.
 */
#ifndef ARSPEC_SOL_H
#define ARSPEC_SOL_H

typedef unsigned char __u8;
typedef unsigned short __u16;
typedef unsigned int __u32;
typedef unsigned long long __u64;
typedef signed int __s32;
typedef signed long long __s64;

#ifndef SEC
#define SEC(name) __attribute__((section(name), used))
#endif
#ifndef __uint
#define __uint(name, val) int (*name)[val]
#endif
#ifndef __type
#define __type(name, val) __typeof__(val) *name
#endif
#ifndef __always_inline
#define __always_inline inline __attribute__((always_inline))
#endif
#ifndef __noinline
#define __noinline __attribute__((noinline))
#endif

/* Hook sections: name each in the bundle's `section:` (with `elf:`). */
#define SOL_STARTUP SEC("startup")
#define SOL_EVERY SEC("every")
#define SOL_WATCH SEC("watch")
#define SOL_RINGBUF SEC("ringbuf")
#define SOL_TIMER SEC("timer")
#define SOL_WORKQUEUE SEC("workqueue")

#if !defined(__LINUX_BPF_H__) && !defined(_UAPI__LINUX_BPF_H__)
/* Linux include/uapi/linux/bpf.h: map types arspec models, flags and opaque objects. */
enum {
	BPF_MAP_TYPE_HASH = 1,
	BPF_MAP_TYPE_ARRAY = 2,
	BPF_MAP_TYPE_PROG_ARRAY = 3,
	BPF_MAP_TYPE_PERCPU_HASH = 5,
	BPF_MAP_TYPE_PERCPU_ARRAY = 6,
	BPF_MAP_TYPE_LRU_HASH = 9,
	BPF_MAP_TYPE_QUEUE = 22,
	BPF_MAP_TYPE_STACK = 23,
	BPF_MAP_TYPE_RINGBUF = 27,
};
enum { BPF_ANY = 0, BPF_NOEXIST = 1, BPF_EXIST = 2 };
enum { BPF_F_TIMER_ABS = 1 };
struct bpf_timer { __u64 __opaque[2]; } __attribute__((aligned(8)));
struct bpf_wq { __u64 __opaque[2]; } __attribute__((aligned(8)));
struct bpf_spin_lock { __u32 val; };
struct bpf_dynptr { __u64 __opaque[2]; } __attribute__((aligned(8)));
#endif
struct bpf_iter_num { __u64 __opaque[1]; } __attribute__((aligned(8)));

/* A (pointer, length) slice: sol_log_data, sol_sha256, sol_keccak256. */
struct sol_bytes { const __u8 *addr; __u64 len; };
/* The Clock sysvar (sol_get_clock_sysvar). */
struct sol_clock {
	__u64 slot;
	__s64 epoch_start_timestamp;
	__u64 epoch;
	__u64 leader_schedule_epoch;
	__s64 unix_timestamp;
};
"""


def _criteria() -> str:
    ops = "\n".join(f"\tSOL_WATCH_{op.name} = {code}," for code, op in enumerate(WATCH_OP_CODES))
    return f"""
/* sol_watch_account criteria ({WATCH_CRITERIA_SIZE} bytes; arspec.spec.runtime_watchers). */
enum {{
{ops}
}};
struct sol_watch_criteria {{
	__u32 account;   /* index of a declared account */
	__u32 offset;    /* byte offset of the field */
	__u8 op;         /* SOL_WATCH_* */
	__u8 width;      /* 1, 2, 4 or 8 */
	__u8 is_signed;  /* 0 or 1 */
	__u8 reserved;   /* 0 */
	__u32 bps;       /* SOL_WATCH_CHANGE_BPS: 1..10000, else 0 */
	__u64 value;     /* threshold of EQ..GE, else 0 */
}};
_Static_assert(sizeof(struct sol_watch_criteria) == {WATCH_CRITERIA_SIZE},
\t       "struct sol_watch_criteria is {WATCH_CRITERIA_SIZE} bytes");
"""


def _declare(name: str, value: str, prototype: str | None = None) -> str:
    """Return ``static RET (*const name)(PARAMS) = (void *) value;`` (the prototype of
    ``prototype``, default ``name``)."""
    ret, params = PROTOTYPES[prototype or name]
    star = "(*const " if ret.endswith("*") else " (*const "
    return f"static {ret}{star}{name})({params}) = (void *) {value};"


def _helper_value(name: str, linux_id: int) -> str:
    return f"ARSPEC_HELPER({murmur3_32(name.encode()):#010x}, {linux_id})"


def get_linux_id(name: str) -> int:
    """Return a helper's Linux id (helper table, else :data:`LINUX_ONLY_IDS`)."""
    row = HELPERS_BY_NAME.get(name)
    return int(row.id) if row is not None else LINUX_ONLY_IDS[name]


def render_header() -> str:
    """Return the text of ``arspec/sol.h`` (deterministic: table order only)."""
    names = [row.name for row in HELPER_TABLE]
    names += [n for n in LINUX_ONLY_IDS if n not in HELPERS_BY_NAME]
    helpers = [_declare(n, _helper_value(n, get_linux_id(n))) for n in names]
    aliases = [_declare(alias, _helper_value(alias, get_linux_id(target)), target)
               for alias, target in SOL_ALIASES]
    syscalls = [_declare(s.row.name, f"{murmur3_32(s.row.name.encode()):#010x}")
                for s in AGAVE_SYSCALLS]
    return "\n".join([
        _PRELUDE + _criteria(),
        "#ifdef ARSPEC_PROFILE_LINUX",
        "#define ARSPEC_HELPER(solana_hash, linux_id) (linux_id)",
        "#else",
        "#define ARSPEC_HELPER(solana_hash, linux_id) (solana_hash)",
        "#endif",
        "",
        "/* Helpers (Linux names; the solana profile calls them by murmur3_32 of the name). */",
        *helpers,
        "",
        "/* The design's sol_* names: each is the helper named in arspec.spec.syscalls. */",
        *aliases,
        "",
        "#ifndef ARSPEC_PROFILE_LINUX",
        "/* Agave syscalls (solana profile only). */",
        *syscalls,
        "#endif",
        "",
        "#endif /* ARSPEC_SOL_H */",
        "",
    ])


def get_include_dir() -> Path:
    """Return the directory to pass to ``-I`` (it holds ``arspec/sol.h``)."""
    return INCLUDE_DIR


def main() -> int:
    """Write the header (``python -m arspec.reference.runtime.c_header``); print its path."""
    HEADER_PATH.parent.mkdir(parents=True, exist_ok=True)
    HEADER_PATH.write_text(render_header())
    print(HEADER_PATH)
    return 0


if __name__ == "__main__":
    sys.exit(main())
