/* A bpf_loop callback (code address of a .text function) and a .text subprogram. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
static int cb(__u32 i, void *ctx) { *(long *)ctx += i; return 0; }
static __noinline int other(int x) { return x * 7; }
SEC("socket")
int withloop(struct __sk_buff *skb)
{
	long sum = 0;
	bpf_loop(10, cb, &sum, 0);
	return sum + other(sum);
}
char LICENSE[] SEC("license") = "GPL";
