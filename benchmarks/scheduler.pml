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

inline tick_or_idle() {
  if
  :: slot < S -> slot++; used = 0; ext = 0
  :: else -> skip
  fi
}

active proctype scheduler() {
  do
  :: d_step {
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
             :: else -> lost = 1
             fi;
             /* per-slot budget and ring-no-loss; also keeps lost and used in the state
                vector (Spin hides write-only variables) */
             assert((used <= B || !BUDGET_CHECK) && (lost == 0 || !BACKPRESSURE))
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
       i = 0; best = 0; bestdue = 0
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
       i = 0
     }
  od
}

active proctype writer() {
  do
  :: d_step { ext < E && wlen < W -> wq[wlen] = 1; wlen++; ext++ }
#if K >= 2
  :: d_step { ext < E && wlen < W -> wq[wlen] = 2; wlen++; ext++ }
#endif
#if K >= 3
  :: d_step { ext < E && wlen < W -> wq[wlen] = 3; wlen++; ext++ }
#endif
  od
}
