/* watch_cascade.c -- a watcher registered at run time, twice: `start_broken` (BROKEN ON
 * PURPOSE) subscribes `bump_balance`, which writes the very field it watches, so every
 * firing triggers the next until the runtime suppresses the cascade; `start_ok` subscribes
 * `collect_fee`, which writes the fee into another account.
 */
#include <arspec/sol.h>

#define VAULT 0
#define FEES 1

static void add_one(__u64 account)
{
	__u64 v = 0;
	arspec_account_read(account, 0, &v, sizeof(v));
	v += 1;
	arspec_account_write(account, 0, &v, sizeof(v));
}

static long bump_balance(void *ctx) { add_one(VAULT); return 0; }
static long collect_fee(void *ctx) { add_one(FEES); return 0; }

static void watch_vault(void *callback)
{
	struct sol_watch_criteria c = {
		.account = VAULT, .offset = 0, .op = SOL_WATCH_CHANGED, .width = 8,
	};
	sol_watch_account(&c, sizeof(c), callback, 0);
}

SOL_STARTUP
long start_broken(void *ctx) { watch_vault(bump_balance); return 0; }

SOL_STARTUP
long start_ok(void *ctx) { watch_vault(collect_fee); return 0; }
