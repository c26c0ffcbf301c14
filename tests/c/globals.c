/* Global data in .rodata, .data and .bss. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

const volatile int limit = 40;
int counter = 2;
int scratch;

SEC("socket")
int globals(struct __sk_buff *skb)
{
	scratch = counter + limit;
	return scratch;
}

char LICENSE[] SEC("license") = "GPL";
