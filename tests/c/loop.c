/* A loop with a constant trip count: sum of i*i for i in 0..29 = 8555. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("socket")
int loop(struct __sk_buff *skb)
{
	volatile int bound = 30;
	unsigned int sum = 0;
	for (int i = 0; i < 30; i++) {
		if (i >= bound)
			break;
		sum += (unsigned int)(i * i);
	}
	return (int)sum;
}

char LICENSE[] SEC("license") = "GPL";
