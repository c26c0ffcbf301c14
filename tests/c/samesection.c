/* Two programs in one section: libbpf loads each function as its own program. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("socket")
int alpha(struct __sk_buff *skb)
{
	return 11;
}

SEC("socket")
int beta(struct __sk_buff *skb)
{
	return 22;
}

char LICENSE[] SEC("license") = "GPL";
