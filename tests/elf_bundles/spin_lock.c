/* A libbpf-style counter under a bpf_spin_lock: the lock's offset in the value comes from the
 * object's BTF. Built with clang -g -O2 -target bpf by tests/test_elf_spin_lock.py. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct counter {
	__u64 hits;
	struct bpf_spin_lock lock;
	__u32 pad;
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct counter);
} counts SEC(".maps");

SEC("socket")
int tick(void *ctx)
{
	__u32 key = 0;
	struct counter *c = bpf_map_lookup_elem(&counts, &key);

	if (!c)
		return 0;
	bpf_spin_lock(&c->lock);
	c->hits += 1;
	bpf_spin_unlock(&c->lock);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
