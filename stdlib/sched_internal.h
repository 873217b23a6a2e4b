/*
** sched_internal.h - what the scheduler (sched.c) shares with its yield-
** aware coroutine library (coroutine.c); not for other modules.
*/
#ifndef SL_STDLIB_SCHED_INTERNAL_H
#define SL_STDLIB_SCHED_INTERNAL_H

#include "sched.h"

#include <lauxlib.h>

enum { T_RUNNABLE, T_RUNNING, T_BLOCKED, T_DONE };

struct sl_task {
  lua_State *co;          /* the task's thread */
  lua_State *wl;          /* the thread blocked in a call (co or inside) */
  sl_sched *S;
  sl_task *next;          /* run queue */
  sl_task *aprev, *anext; /* every live task, oldest first */
  const char *what;       /* the blocking call, for the deadlock report */
  unsigned long id;
  int state;
  int woken;              /* woken while running: do not block */
  int nargs;              /* arguments of the first resume */
  int ref;                /* registry reference of the userdata */
  union {
    void *p;
    int64_t i;
    double d;  /* Lua userdata are only 8-byte aligned */
    char bytes[SL_TASK_SCRATCH];
  } scratch;
};

struct sl_sched {
  lua_State *L;             /* main thread */
  sl_task *current;         /* running task */
  sl_task *runq, *runq_tail;
  int nrunq;
  sl_task *all, *all_tail;  /* live tasks */
  sl_task *main;            /* main task of the current run */
  int main_nres;
  int main_done;
  int loop_status;
  int running;              /* inside sl_sched_run */
  int chain_ok;             /* every thread from the task down can yield */
  lua_State *top;           /* innermost thread of that chain */
  int blocking;             /* a blocking yield is on its way up */
  int holds;                /* open sources of wake-ups (sockets) */
  unsigned long next_id;
  sl_timer **heap;          /* min-heap on due */
  int nheap, capheap;
  int64_t last_poll;
  sl_ev ev;                 /* the loop (epfd -1: could not be made) */
  int ev_err;               /* why not: -errno */
  int closed;
};


/* A thread's extra space: its task, &sl_sched__parked for a script's
** coroutine suspended inside a blocking call, NULL otherwise. */
#define XS(co) (*(void **)lua_getextraspace(co))
extern char sl_sched__parked;

static inline sl_task *task_of(lua_State *co) {
  void *p = XS(co);
  return (p != NULL && p != &sl_sched__parked) ? (sl_task *)p : NULL;
}

/* The hooks in force (never NULL). */
extern const sl_sched_hooks *sl_sched__hooks;
#define HOOKS sl_sched__hooks

/* coroutine.spawn (sched.c). */
int sl_sched__spawn(lua_State *L);

#endif
