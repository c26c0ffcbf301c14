/*
 * Scheduler-only benchmark model, the Promela twin of benchmarks/scheduler_model.py.
 *
 * Same state variables, same transitions, one d_step per atomic step of the Python model,
 * so with reductions off (-DNOREDUCE) Spin stores exactly as many states as arspec.
 * Instances are chosen with -D flags (see SchedulerParams.spin_defines):
 *   spin -DT=2 -DDMAX=2 -DR=2 -DW=2 -DK=2 -DC1=1 -DC2=2 -DC3=0 -DE=2 -DS=3 -DB=4 -DTC=2 \
 *        -DBUDGET_CHECK=1 -DBACKPRESSURE=1 -DRING_IDS=1 -a scheduler.pml
 *
 * Only the process counters/pcs are extra in Spin's state vector; they are constant because
 * every process is one do-loop of d_steps. The scheduler's d_step is always executable and is
 * a self-loop when there is nothing to do (Python: no action), which adds no state.
 *
 * Invariants: the same six as SchedulerModel.invariants() and transition_invariants(), one
 * assert each, checked at the end of every atomic step (so on every transition and every
 * reachable state but the initial one, which satisfies them all): no-lost-timer,
 * ring-no-loss, ring-fifo-shape, per-slot-budget, no-double-execution, slot-monotone. The
 * planted bugs (-DBUDGET_CHECK=0, -DBACKPRESSURE=0) break them as in the Python model.
 */

#ifndef T
#define T 2
#endif
#ifndef DMAX
#define DMAX 2
#endif
#ifndef R
#define R 2
#endif
#ifndef W
#define W 2
#endif
#ifndef K
#define K 2
#endif
#ifndef C1
#define C1 1
#endif
#ifndef C2
#define C2 2
#endif
#ifndef C3
#define C3 0
#endif
#ifndef E
#define E 2
#endif
#ifndef S
#define S 3
#endif
#ifndef B
#define B 4
#endif
#ifndef TC
#define TC 2
#endif
#ifndef BUDGET_CHECK
#define BUDGET_CHECK 1
#endif
#ifndef BACKPRESSURE
#define BACKPRESSURE 1
#endif

#ifndef RING_IDS
#define RING_IDS 1
#endif

/* a ring record holds timer + 1, or only occupancy (1) with -DRING_IDS=0 */
#if RING_IDS
#define RECORD(t) ((t) + 1)
#else
#define RECORD(t) 1
#endif

#define COST(k) ((k) == 1 -> C1 : ((k) == 2 -> C2 : C3))
#if BUDGET_CHECK
#define FITS(c) (used + (c) <= B)
#else
#define FITS(c) (1)
#endif
#if BACKPRESSURE
#define ROOM (rlen < R)
#else
#define ROOM (1)
#endif

byte slot = 1;
byte used = 0;
byte ext = 0;
byte lost = 0;
byte rlen = 0;
byte wlen = 0;
byte tdue[T] = 1;
byte ring[R];
byte wq[W];

/* scratch registers: hidden, so not part of the state vector */
hidden byte i;
hidden byte best;
hidden byte bestdue;
hidden byte fired;
hidden byte before;

/* Each invariant can be switched off (-DINV_BUDGET=0, ...) to ask about one at a time. */
#ifndef INV_TIMER
#define INV_TIMER 1
#endif
#ifndef INV_LOSS
#define INV_LOSS 1
#endif
#ifndef INV_FIFO
#define INV_FIFO 1
#endif
#ifndef INV_BUDGET
#define INV_BUDGET 1
#endif
#ifndef INV_DOUBLE
#define INV_DOUBLE 1
#endif
#ifndef INV_SLOT
#define INV_SLOT 1
#endif

/* The state invariants (and slot-monotone), checked after every atomic step. */
inline check_state() {
#if INV_TIMER
  for (i : 0 .. T - 1) { assert(tdue[i] != 0) };                 /* no-lost-timer */
#endif
#if INV_LOSS
  assert(lost == 0);                                             /* ring-no-loss */
#endif
#if INV_FIFO
  for (i : 0 .. R - 1) { assert((i < rlen) == (ring[i] != 0)) }; /* ring-fifo-shape */
#endif
#if INV_BUDGET
  assert(used <= B);                                             /* per-slot-budget */
#endif
#if INV_SLOT
  assert(before <= slot && slot <= S);                           /* slot-monotone */
#endif
  i = 0
}

inline tick_or_idle() {
  if
  :: slot < S -> slot++; used = 0; ext = 0
  :: else -> skip
  fi
}

active proctype scheduler() {
  do
  :: d_step {
       before = slot; fired = 255;
       best = 255; bestdue = 255;
       for (i : 0 .. T - 1) {
         if
         :: tdue[i] > 0 && tdue[i] <= slot && tdue[i] < bestdue -> best = i; bestdue = tdue[i]
         :: else -> skip
         fi
       }
       if
       :: best != 255 ->
          if
          :: FITS(TC) && ROOM ->
             used = used + TC;
             tdue[best] = slot + 1 + best % DMAX;
             if
             :: rlen < R -> ring[rlen] = RECORD(best); rlen++
             :: else -> lost = lost | 1   /* reads lost: Spin drops write-only variables */
             fi;
             fired = best
          :: else -> tick_or_idle()
          fi
       :: else ->
          if
          :: wlen > 0 && FITS(COST(wq[0])) ->
             used = used + COST(wq[0]);
             for (i : 0 .. W - 2) { wq[i] = wq[i + 1] }
             wq[W - 1] = 0;
             wlen--
          :: else -> tick_or_idle()
          fi
       fi;
#if INV_DOUBLE
       assert(fired == 255 || tdue[fired] > slot);                  /* no-double-execution */
#endif
       check_state();
       i = 0; best = 0; bestdue = 0; fired = 0; before = 0
     }
  od
}

active proctype consumer() {
  do
  :: d_step {
       rlen > 0 ->
       for (i : 0 .. R - 2) { ring[i] = ring[i + 1] }
       ring[R - 1] = 0;
       rlen--;
       before = slot;
       check_state();
       before = 0
     }
  od
}

active proctype writer() {
  do
  :: d_step { ext < E && wlen < W -> wq[wlen] = 1; wlen++; ext++;
              before = slot; check_state(); before = 0 }
#if K >= 2
  :: d_step { ext < E && wlen < W -> wq[wlen] = 2; wlen++; ext++;
              before = slot; check_state(); before = 0 }
#endif
#if K >= 3
  :: d_step { ext < E && wlen < W -> wq[wlen] = 3; wlen++; ext++;
              before = slot; check_state(); before = 0 }
#endif
  od
}
