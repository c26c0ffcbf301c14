/* market_watch_broken.c -- BROKEN ON PURPOSE: market_watch.c with one early return that
 * leaves book[0]'s spin lock held. on_quote ignores a price below half the high ("a bad
 * tick") by returning straight away -- after bpf_spin_lock, before bpf_spin_unlock. Linux
 * refuses the program ("BPF_EXIT instruction cannot be used inside bpf_spin_lock-ed
 * region"); arspec's verifier REFUTES memory at that return, and the runtime faults there.
 * Fix: unlock before returning (market_watch.c has no such return).
 *
 * The rest is market_watch.c unchanged:
 *
 * `start` (startup) records the opening price in book[0] (under its spin lock), arms a
 * timer on clock[0] that fires every 4 slots, and subscribes `on_quote` to every change of
 * price.value with sol_watch_account.
 *  - on_quote (run-time watcher): updates book[0] {quotes, last, high} under the lock, then
 *    writes a quote record into `feed` through a ring-buffer dynptr: 16 bytes {2, price}, or
 *    24 bytes {3, price, previous high} when the price is a new high.
 *  - on_tick (timer): counts the tick and writes a 16-byte record {1, ticks}; re-arms.
 *  - record (the ring's subscriber): logs each record with sol_log_64_ and adds it to
 *    stats[0] {records, bytes, highs}.
 * Built with: clang -O2 -g -target bpf -I"$(spec-check include-dir)" -c market_watch_broken.c
 */
#include <arspec/sol.h>

struct book {
	__u64 quotes;             /* price changes seen */
	__u64 last;               /* the last price */
	__u64 high;               /* the highest price since startup */
	struct bpf_spin_lock lock;
	__u32 pad;
};

struct clock {
	__u64 ticks;
	struct bpf_timer timer;
};

struct stats {
	__u64 records;
	__u64 bytes;
	__u64 highs;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct book);
} book SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct clock);
} clock SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct stats);
} stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} feed SEC(".maps");

#define PRICE_ACCOUNT 0
#define TICK_SLOTS 4
#define KIND_TICK 1
#define KIND_QUOTE 2
#define KIND_HIGH 3

/* Write {kind, value} (and `extra` when len is 24) as one ring record through a dynptr. */
static __always_inline void emit(__u64 kind, __u64 value, __u64 extra, __u32 len)
{
	struct bpf_dynptr ptr;
	__u64 head[2] = {kind, value};

	if (bpf_ringbuf_reserve_dynptr(&feed, len, 0, &ptr)) {
		bpf_ringbuf_discard_dynptr(&ptr, 0); /* released even when the reservation failed */
		return;
	}
	bpf_dynptr_write(&ptr, 0, head, sizeof(head), 0);
	__u64 *tail = bpf_dynptr_data(&ptr, 16, 8); /* NULL for a 16-byte record */
	if (tail)
		*tail = extra;
	bpf_ringbuf_submit_dynptr(&ptr, 0);
}

static long on_tick(void *map, __u32 *key, struct clock *c)
{
	c->ticks += 1;
	emit(KIND_TICK, c->ticks, 0, 16);
	sol_timer_start(&c->timer, TICK_SLOTS, 0);
	return 0;
}

static long on_quote(void *ctx)
{
	__u32 key = 0;
	__u64 price = 0;
	__u64 high;

	arspec_account_read(PRICE_ACCOUNT, 0, &price, sizeof(price));
	struct book *b = bpf_map_lookup_elem(&book, &key);
	if (!b)
		return 0;
	bpf_spin_lock(&b->lock);
	b->quotes += 1;
	b->last = price;
	high = b->high;
	if (price < high / 2)
		return 0; /* BUG: returns with b->lock held */
	if (price > high)
		b->high = price;
	bpf_spin_unlock(&b->lock);
	if (price > high)
		emit(KIND_HIGH, price, high, 24);
	else
		emit(KIND_QUOTE, price, 0, 16);
	return 0;
}

SOL_STARTUP
long start(void *ctx)
{
	__u32 key = 0;
	__u64 price = 0;

	arspec_account_read(PRICE_ACCOUNT, 0, &price, sizeof(price));
	struct book *b = bpf_map_lookup_elem(&book, &key);
	if (b) {
		bpf_spin_lock(&b->lock);
		b->last = price;
		b->high = price;
		bpf_spin_unlock(&b->lock);
	}
	struct clock *c = bpf_map_lookup_elem(&clock, &key);
	if (c && sol_timer_init(&c->timer, &clock, 0) == 0) {
		sol_timer_set_callback(&c->timer, on_tick);
		sol_timer_start(&c->timer, TICK_SLOTS, 0);
	}
	struct sol_watch_criteria w = {
		.account = PRICE_ACCOUNT, .offset = 0, .op = SOL_WATCH_CHANGED, .width = 8,
		.is_signed = 0, .reserved = 0, .bps = 0, .value = 0,
	};
	sol_watch_account(&w, sizeof(w), on_quote, 0);
	return 0;
}

SOL_RINGBUF
long record(__u64 *r, __u64 len)
{
	__u32 key = 0;

	if (len < 16)
		return 0;
	struct stats *s = bpf_map_lookup_elem(&stats, &key);
	if (!s)
		return 0;
	s->records += 1;
	s->bytes += len;
	if (r[0] == KIND_HIGH)
		s->highs += 1;
	sol_log_64_(r[0], r[1], len, 0, 0);
	return 0;
}
