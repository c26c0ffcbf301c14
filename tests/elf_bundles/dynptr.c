/* Variable-length ring-buffer records through a bpf_dynptr, as a libbpf user writes them;
 * built with clang -g -O2 -target bpf by tests/test_elf_spin_lock.py. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} feed SEC(".maps");

SEC("socket")
int produce(void *ctx)
{
	struct bpf_dynptr ptr;
	__u64 slot = 7;
	__u32 len = 16 + (bpf_get_prandom_u32() & 8);

	if (bpf_ringbuf_reserve_dynptr(&feed, len, 0, &ptr)) {
		bpf_ringbuf_discard_dynptr(&ptr, 0);
		return 0;
	}
	bpf_dynptr_write(&ptr, 0, &slot, sizeof(slot), 0);
	__u64 *p = bpf_dynptr_data(&ptr, 8, 8);
	if (p)
		*p = len;
	bpf_ringbuf_submit_dynptr(&ptr, 0);
	return 0;
}
char LICENSE[] SEC("license") = "GPL";
