/* A BTF-defined array map read through bpf_map_lookup_elem. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 128);
	__type(key, __u64);
	__type(value, struct { __u32 a; __u32 b; __u64 c; });
} pairs SEC(".maps");

SEC("socket")
int lookup(struct __sk_buff *skb)
{
	__u32 key = 3;
	__u64 *value = bpf_map_lookup_elem(&counters, &key);
	if (!value)
		return 0;
	__sync_fetch_and_add(value, 1);
	return (int)*value;
}

SEC("socket/pairs")
int probe_pairs(struct __sk_buff *skb)
{
	__u64 key = 7;
	return bpf_map_lookup_elem(&pairs, &key) != 0;
}

char LICENSE[] SEC("license") = "GPL";
