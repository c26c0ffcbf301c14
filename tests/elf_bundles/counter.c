/* A libbpf-style program whose maps live only in the object (.maps with BTF): an array of
 * counters and a hash whose value holds a bpf_timer. Built with clang -g -O2 -target bpf. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct counter {
	__u64 hits;
	__u64 last;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, struct counter);
} counters SEC(".maps");

struct tick {
	__u64 count;
	struct bpf_timer timer;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u64);
	__type(value, struct tick);
} ticks SEC(".maps");

SEC("socket")
int count(void *ctx)
{
	__u32 key = 0;
	struct counter *c = bpf_map_lookup_elem(&counters, &key);
	if (!c)
		return 1;
	c->hits += 1;
	__u64 k = 1;
	struct tick *t = bpf_map_lookup_elem(&ticks, &k);
	if (t)
		t->count += 1;
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
