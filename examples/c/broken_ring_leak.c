/* broken_ring_leak.c -- BROKEN ON PURPOSE: a ring-buffer record reserved and, on one path,
 * never submitted nor discarded. Every 2 slots `sample` reserves a record for the price;
 * when the price is above 150 it returns early and the reservation leaks. The fix is one
 * line: sol_ringbuf_discard(e, 0) before that return.
 */
#include <arspec/sol.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} samples SEC(".maps");

SOL_EVERY
long sample(void *ctx)
{
	__u64 price = 0;
	__u64 *e = sol_ringbuf_reserve(&samples, sizeof(*e), 0);
	if (!e)
		return 0;
	arspec_account_read(0, 0, &price, sizeof(price));
	if (price > 150)
		return 0; /* BUG: the record is still reserved */
	*e = price;
	sol_ringbuf_submit(e, 0);
	return 0;
}
