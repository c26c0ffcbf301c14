/* Two program sections sharing one .text subprogram. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

static __noinline int add3(int x)
{
	return x + 3;
}

static __noinline int twice_plus(int x)
{
	return add3(x) * 2;
}

SEC("socket/first")
int first(struct __sk_buff *skb)
{
	volatile int v = 5;
	return add3(v);      /* 8 */
}

SEC("socket/second")
int second(struct __sk_buff *skb)
{
	volatile int v = 5;
	return twice_plus(v) + 1;  /* (5 + 3) * 2 + 1 = 17 */
}

char LICENSE[] SEC("license") = "GPL";
