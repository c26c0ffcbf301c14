/* A legacy "maps" section with struct bpf_map_def entries (declared here: libbpf dropped it). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct legacy_map_def {
	unsigned int type;
	unsigned int key_size;
	unsigned int value_size;
	unsigned int max_entries;
	unsigned int map_flags;
};

struct legacy_map_def hits SEC("maps") = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = 4,
	.value_size = 8,
	.max_entries = 4,
};

struct legacy_map_def seen SEC("maps") = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = 8,
	.value_size = 4,
	.max_entries = 64,
};

SEC("socket")
int legacy(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 k2 = 1;
	void *a = bpf_map_lookup_elem(&hits, &key);
	void *b = bpf_map_lookup_elem(&seen, &k2);
	return (a != 0) + (b != 0);
}

char LICENSE[] SEC("license") = "GPL";
