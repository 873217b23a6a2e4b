/*
** channel.h - Go-style channels (the global `channel`), for C modules that
** hand values to Lua tasks (time.after, tickers, sockets).
*/
#ifndef SL_STDLIB_CHANNEL_H
#define SL_STDLIB_CHANNEL_H

#include <lua.h>

#define SL_CHANNEL_MT "sandlua.Channel"

/* Push a new channel with a buffer of `cap` values (0: unbuffered). */
void sl_chan_new(lua_State *L, int cap);

/*
** Send the value at `vidx` on the channel at `chidx` without blocking: to a
** waiting receiver or into the buffer.  Returns 1 if sent, 0 if the
** channel is full or closed.  Stack: 0.  Callable outside any task.
*/
int sl_chan_trysend(lua_State *L, int chidx, int vidx);

/*
** Make the channel at `chidx` keep the value at the top alive (popped): the
** timer behind time.after lives as long as its channel.
*/
void sl_chan_setowner(lua_State *L, int chidx);

/*
** Space notification for a producer in C (a socket that stopped reading
** while the channel was full): fn(ud) is called once, the next time a
** receiver takes a value or starts waiting on the channel at `chidx`, or
** the channel is closed.  It runs inside that channel operation: it must
** not touch the channel or Lua (arm a timer instead).  A new registration
** replaces the previous one; fn NULL cancels it.
*/
typedef void (*sl_chan_space_fn)(void *ud);
void sl_chan_notify_space(lua_State *L, int chidx, sl_chan_space_fn fn,
                          void *ud);

/* 1 if the channel at `chidx` is closed. */
int sl_chan_isclosed(lua_State *L, int chidx);

/* Close the channel at `chidx` (idempotent), as ch:close(). */
void sl_chan_close(lua_State *L, int chidx);

/* Drop every value buffered in the channel at `chidx`. */
void sl_chan_drain(lua_State *L, int chidx);

#endif
