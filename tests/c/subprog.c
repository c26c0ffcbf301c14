/* A static __noinline subprogram in .text called twice: mix(3, 4) + mix(10, 20) = 19 + 230. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __noinline unsigned long long mix(unsigned long long a, unsigned long long b)
{
	return a * b + a + b - (a > 5 ? 0 : 0);
}

SEC("socket")
int twice(struct __sk_buff *skb)
{
	volatile unsigned long long x = 3;
	volatile unsigned long long y = 10;
	return (int)(mix(x, 4) + mix(y, 20));
}

char LICENSE[] SEC("license") = "Dual BSD/GPL";
