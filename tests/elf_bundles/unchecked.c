/* A lookup result used without the NULL check: the verifier must refute memory safety and
 * name this file and the line of the dereference. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u64);
} seen SEC(".maps");

SEC("socket")
int unchecked(void *ctx)
{
	__u32 key = 1;
	__u64 *value = bpf_map_lookup_elem(&seen, &key);
	return (int)*value; /* DEREF */
}

char LICENSE[] SEC("license") = "GPL";
