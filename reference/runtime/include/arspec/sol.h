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

/* sol_watch_account criteria (24 bytes; arspec.spec.runtime_watchers). */
enum {
	SOL_WATCH_EQ = 0,
	SOL_WATCH_NE = 1,
	SOL_WATCH_LT = 2,
	SOL_WATCH_LE = 3,
	SOL_WATCH_GT = 4,
	SOL_WATCH_GE = 5,
	SOL_WATCH_CHANGED = 6,
	SOL_WATCH_CHANGE_BPS = 7,
};
struct sol_watch_criteria {
	__u32 account;   /* index of a declared account */
	__u32 offset;    /* byte offset of the field */
	__u8 op;         /* SOL_WATCH_* */
	__u8 width;      /* 1, 2, 4 or 8 */
	__u8 is_signed;  /* 0 or 1 */
	__u8 reserved;   /* 0 */
	__u32 bps;       /* SOL_WATCH_CHANGE_BPS: 1..10000, else 0 */
	__u64 value;     /* threshold of EQ..GE, else 0 */
};
_Static_assert(sizeof(struct sol_watch_criteria) == 24,
	       "struct sol_watch_criteria is 24 bytes");

#ifdef ARSPEC_PROFILE_LINUX
#define ARSPEC_HELPER(solana_hash, linux_id) (linux_id)
#else
#define ARSPEC_HELPER(solana_hash, linux_id) (solana_hash)
#endif

/* Helpers (Linux names; the solana profile calls them by murmur3_32 of the name). */
static void *(*const bpf_map_lookup_elem)(void *map, const void *key) = (void *) ARSPEC_HELPER(0x647dd7de, 1);
static long (*const bpf_map_update_elem)(void *map, const void *key, const void *value, __u64 flags) = (void *) ARSPEC_HELPER(0x7aaee2bc, 2);
static long (*const bpf_map_delete_elem)(void *map, const void *key) = (void *) ARSPEC_HELPER(0x6ee6204a, 3);
static __u64 (*const bpf_ktime_get_ns)(void) = (void *) ARSPEC_HELPER(0x1c57afd4, 5);
static long (*const bpf_trace_printk)(const char *fmt, __u32 fmt_size, ...) = (void *) ARSPEC_HELPER(0xbf686891, 6);
static __u32 (*const bpf_get_prandom_u32)(void) = (void *) ARSPEC_HELPER(0xd6eb57ab, 7);
static __u32 (*const bpf_get_smp_processor_id)(void) = (void *) ARSPEC_HELPER(0xd78cfbd3, 8);
static long (*const bpf_tail_call)(void *ctx, void *prog_array, __u32 index) = (void *) ARSPEC_HELPER(0x0e9ade72, 12);
static long (*const bpf_map_push_elem)(void *map, const void *value, __u64 flags) = (void *) ARSPEC_HELPER(0xd59dd250, 87);
static long (*const bpf_map_pop_elem)(void *map, void *value) = (void *) ARSPEC_HELPER(0xecf65c5c, 88);
static long (*const bpf_map_peek_elem)(void *map, void *value) = (void *) ARSPEC_HELPER(0xe54f90f6, 89);
static long (*const bpf_spin_lock)(struct bpf_spin_lock *lock) = (void *) ARSPEC_HELPER(0xc237e4fd, 93);
static long (*const bpf_spin_unlock)(struct bpf_spin_lock *lock) = (void *) ARSPEC_HELPER(0x67c474ec, 94);
static __u64 (*const bpf_ktime_get_boot_ns)(void) = (void *) ARSPEC_HELPER(0xbd3c3138, 125);
static long (*const bpf_ringbuf_output)(void *ring, void *data, __u64 size, __u64 flags) = (void *) ARSPEC_HELPER(0x27a8f0b4, 130);
static void *(*const bpf_ringbuf_reserve)(void *ring, __u64 size, __u64 flags) = (void *) ARSPEC_HELPER(0x93faff5f, 131);
static void (*const bpf_ringbuf_submit)(void *record, __u64 flags) = (void *) ARSPEC_HELPER(0x85b83e9c, 132);
static void (*const bpf_ringbuf_discard)(void *record, __u64 flags) = (void *) ARSPEC_HELPER(0xba14c1e0, 133);
static __u64 (*const bpf_ringbuf_query)(void *ring, __u64 flag) = (void *) ARSPEC_HELPER(0xa95d9ec5, 134);
static __u64 (*const bpf_ktime_get_coarse_ns)(void) = (void *) ARSPEC_HELPER(0xb9a40f47, 160);
static long (*const bpf_timer_init)(struct bpf_timer *timer, void *map, __u64 flags) = (void *) ARSPEC_HELPER(0x152dc982, 169);
static long (*const bpf_timer_set_callback)(struct bpf_timer *timer, void *callback) = (void *) ARSPEC_HELPER(0x5a5cc654, 170);
static long (*const bpf_timer_start)(struct bpf_timer *timer, __u64 slots, __u64 flags) = (void *) ARSPEC_HELPER(0x4225587e, 171);
static long (*const bpf_timer_cancel)(struct bpf_timer *timer) = (void *) ARSPEC_HELPER(0x71528b84, 172);
static long (*const bpf_loop)(__u32 nr_loops, void *callback, void *ctx, __u64 flags) = (void *) ARSPEC_HELPER(0xa868050d, 181);
static long (*const bpf_dynptr_from_mem)(void *data, __u32 size, __u64 flags, struct bpf_dynptr *ptr) = (void *) ARSPEC_HELPER(0x190510c7, 197);
static long (*const bpf_ringbuf_reserve_dynptr)(void *ring, __u32 size, __u64 flags, struct bpf_dynptr *ptr) = (void *) ARSPEC_HELPER(0x0f7852c6, 198);
static void (*const bpf_ringbuf_submit_dynptr)(struct bpf_dynptr *ptr, __u64 flags) = (void *) ARSPEC_HELPER(0x9e23cc4e, 199);
static void (*const bpf_ringbuf_discard_dynptr)(struct bpf_dynptr *ptr, __u64 flags) = (void *) ARSPEC_HELPER(0xda9102d0, 200);
static long (*const bpf_dynptr_read)(void *dst, __u32 len, const struct bpf_dynptr *src, __u32 offset, __u64 flags) = (void *) ARSPEC_HELPER(0x1f9582d9, 201);
static long (*const bpf_dynptr_write)(const struct bpf_dynptr *dst, __u32 offset, void *src, __u32 len, __u64 flags) = (void *) ARSPEC_HELPER(0xed96cd73, 202);
static void *(*const bpf_dynptr_data)(const struct bpf_dynptr *ptr, __u32 offset, __u32 len) = (void *) ARSPEC_HELPER(0xb081f152, 203);
static __u64 (*const bpf_ktime_get_tai_ns)(void) = (void *) ARSPEC_HELPER(0x11ce7cae, 208);
static __u64 (*const arspec_get_slot)(void) = (void *) ARSPEC_HELPER(0xbf66f79d, 65536);
static long (*const arspec_account_read)(__u64 account, __u64 offset, void *buf, __u64 size) = (void *) ARSPEC_HELPER(0x3fe774e4, 65537);
static long (*const arspec_account_write)(__u64 account, __u64 offset, const void *buf, __u64 size) = (void *) ARSPEC_HELPER(0x2108abdc, 65538);
static long (*const bpf_wq_init)(struct bpf_wq *wq, void *map, __u64 flags) = (void *) ARSPEC_HELPER(0xa999b38a, 65539);
static long (*const bpf_wq_set_callback)(struct bpf_wq *wq, void *callback, __u64 flags) = (void *) ARSPEC_HELPER(0x55c5dd12, 65540);
static long (*const bpf_wq_start)(struct bpf_wq *wq, __u64 flags) = (void *) ARSPEC_HELPER(0x31c2cacb, 65541);
static long (*const bpf_iter_num_new)(struct bpf_iter_num *it, int start, int end) = (void *) ARSPEC_HELPER(0xb3e9d1bb, 65542);
static int *(*const bpf_iter_num_next)(struct bpf_iter_num *it) = (void *) ARSPEC_HELPER(0xafcfb978, 65543);
static void (*const bpf_iter_num_destroy)(struct bpf_iter_num *it) = (void *) ARSPEC_HELPER(0x0194c670, 65544);
static long (*const arspec_log)(const void *buf, __u64 size) = (void *) ARSPEC_HELPER(0x56d799d7, 65545);
static long (*const sol_watch_account)(const struct sol_watch_criteria *criteria, __u64 size, void *callback, __u64 flags) = (void *) ARSPEC_HELPER(0x7ed7b0bc, 65546);
static long (*const sol_unwatch_account)(__u64 watcher_id) = (void *) ARSPEC_HELPER(0x52ec3a75, 65547);

/* The design's sol_* names: each is the helper named in arspec.spec.syscalls. */
static long (*const sol_timer_init)(struct bpf_timer *timer, void *map, __u64 flags) = (void *) ARSPEC_HELPER(0x31f44677, 169);
static long (*const sol_timer_set_callback)(struct bpf_timer *timer, void *callback) = (void *) ARSPEC_HELPER(0x41a8495c, 170);
static long (*const sol_timer_start)(struct bpf_timer *timer, __u64 slots, __u64 flags) = (void *) ARSPEC_HELPER(0x07ab1869, 171);
static long (*const sol_timer_cancel)(struct bpf_timer *timer) = (void *) ARSPEC_HELPER(0xd5b0ffa0, 172);
static long (*const sol_wq_init)(struct bpf_wq *wq, void *map, __u64 flags) = (void *) ARSPEC_HELPER(0x279ebc60, 65539);
static long (*const sol_wq_set_callback)(struct bpf_wq *wq, void *callback, __u64 flags) = (void *) ARSPEC_HELPER(0xf906fde8, 65540);
static long (*const sol_wq_start)(struct bpf_wq *wq, __u64 flags) = (void *) ARSPEC_HELPER(0xf354f44b, 65541);
static void *(*const sol_ringbuf_reserve)(void *ring, __u64 size, __u64 flags) = (void *) ARSPEC_HELPER(0xae003929, 131);
static void (*const sol_ringbuf_submit)(void *record, __u64 flags) = (void *) ARSPEC_HELPER(0xf3951d78, 132);
static void (*const sol_ringbuf_discard)(void *record, __u64 flags) = (void *) ARSPEC_HELPER(0x32ed4cd5, 133);
static long (*const sol_ringbuf_output)(void *ring, void *data, __u64 size, __u64 flags) = (void *) ARSPEC_HELPER(0x162f8fbf, 130);
static long (*const sol_tail_call)(void *ctx, void *prog_array, __u32 index) = (void *) ARSPEC_HELPER(0xe504be1c, 12);
static long (*const sol_iter_num_new)(struct bpf_iter_num *it, int start, int end) = (void *) ARSPEC_HELPER(0x4f4cba62, 65542);
static int *(*const sol_iter_num_next)(struct bpf_iter_num *it) = (void *) ARSPEC_HELPER(0x3360f62a, 65543);
static void (*const sol_iter_num_destroy)(struct bpf_iter_num *it) = (void *) ARSPEC_HELPER(0xb424999c, 65544);

#ifndef ARSPEC_PROFILE_LINUX
/* Agave syscalls (solana profile only). */
static void (*const sol_log_)(const char *text, __u64 len) = (void *) 0x207559bd;
static void (*const sol_log_64_)(__u64 a, __u64 b, __u64 c, __u64 d, __u64 e) = (void *) 0x5c2a3178;
static void (*const sol_log_compute_units_)(void) = (void *) 0x52ba5096;
static void (*const sol_log_pubkey)(const __u8 *pubkey) = (void *) 0x7ef088ca;
static void (*const sol_log_data)(const struct sol_bytes *fields, __u64 count) = (void *) 0x7317b434;
static void (*const sol_panic_)(const char *file, __u64 len, __u64 line, __u64 column) = (void *) 0x686093bb;
static void (*const abort)(void) = (void *) 0xb6fc1a11;
static void (*const sol_memcpy_)(void *dst, const void *src, __u64 n) = (void *) 0x717cc4a3;
static void (*const sol_memmove_)(void *dst, const void *src, __u64 n) = (void *) 0x434371f8;
static void (*const sol_memset_)(void *dst, __u64 byte, __u64 n) = (void *) 0x3770fb22;
static void (*const sol_memcmp_)(const void *a, const void *b, __u64 n, int *result) = (void *) 0x5fdcde31;
static long (*const sol_sha256)(const struct sol_bytes *slices, __u64 count, __u8 *digest) = (void *) 0x11f49d86;
static long (*const sol_keccak256)(const struct sol_bytes *slices, __u64 count, __u8 *digest) = (void *) 0xd7793abb;
static long (*const sol_get_clock_sysvar)(struct sol_clock *clock) = (void *) 0xd56b5fe9;
#endif

#endif /* ARSPEC_SOL_H */
