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

/* Drop every value buffered in the channel at `chidx`. */
void sl_chan_drain(lua_State *L, int chidx);

#endif
