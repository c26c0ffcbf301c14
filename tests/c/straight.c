/* Straight-line arithmetic: returns a constant the tests know (1234). */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("socket")
int straight(struct __sk_buff *skb)
{
	volatile unsigned long long a = 1000;
	unsigned long long b = a * 3;   /* 3000 */
	b = b / 7;                      /* 428 */
	b ^= 0x5a;                      /* 428 ^ 90 = 502 */
	return (int)(b + 732);          /* 1234 */
}

char LICENSE[] SEC("license") = "GPL";
