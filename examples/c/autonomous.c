/* autonomous.c -- timers, a ring buffer and a watcher registered at run time, in C.
 *
 * `start` (startup) arms a timer on state[0] (every 4 slots) and registers a run-time
 * watcher on price.value > 150. Each tick and each crossing writes a 16-byte record into
 * the `events` ring buffer; `record` (the ring's subscriber) logs it with sol_log_64_.
 * Built by the tests with: clang -O2 -g -target bpf -I"$(spec-check include-dir)" -c
 */
#include <arspec/sol.h>

struct state {
	__u64 ticks;
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct state);
} state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} events SEC(".maps");

struct event {
	__u64 kind;   /* 1: tick, 2: price crossing */
	__u64 value;  /* tick count, or the price */
};

#define PRICE_ACCOUNT 0
#define TICK_SLOTS 4

static long on_tick(void *map, __u32 *key, struct state *value)
{
	value->ticks += 1;
	struct event *e = sol_ringbuf_reserve(&events, sizeof(*e), 0);
	if (e) {
		e->kind = 1;
		e->value = value->ticks;
		sol_ringbuf_submit(e, 0);
	}
	sol_timer_start(&value->timer, TICK_SLOTS, 0);
	return 0;
}

static long on_price(void *ctx)
{
	struct event e = {2, 0};
	arspec_account_read(PRICE_ACCOUNT, 0, &e.value, sizeof(e.value));
	sol_ringbuf_output(&events, &e, sizeof(e), 0);
	return 0;
}

SOL_STARTUP
long start(void *ctx)
{
	__u32 key = 0;
	struct state *s = bpf_map_lookup_elem(&state, &key);
	if (!s)
		return 0;
	if (sol_timer_init(&s->timer, &state, 0) == 0) {
		sol_timer_set_callback(&s->timer, on_tick);
		sol_timer_start(&s->timer, TICK_SLOTS, 0);
	}
	struct sol_watch_criteria c = {
		.account = PRICE_ACCOUNT, .offset = 0, .op = SOL_WATCH_GT, .width = 8,
		.is_signed = 0, .reserved = 0, .bps = 0, .value = 150,
	};
	sol_watch_account(&c, sizeof(c), on_price, 0);
	return 0;
}

SOL_RINGBUF
long record(struct event *e, __u64 len)
{
	if (len < sizeof(*e))
		return 0;
	sol_log_64_(e->kind, e->value, 0, 0, 0);
	return 0;
}
