# luafuzz.mk - the Lua-API fuzzer (tests/fuzz/lua_api/fuzz.lua): random
# calls on every module function and object method a script can reach.
#
#   make fuzz-lua-api     LUA_FUZZ_SEEDS seeds (default 200) on build/
#                         (make check runs 4; check-asan runs them under
#                         the sanitizers); LUA_FUZZ_FIRST, LUA_FUZZ_CALLS
LUA_FUZZ_SEEDS ?= 200
LUA_FUZZ_FIRST ?= 1
LUA_FUZZ_CALLS ?= 1500

fuzz-lua-api: all
	@LUA_FUZZ_SEEDS=$(LUA_FUZZ_SEEDS) LUA_FUZZ_FIRST=$(LUA_FUZZ_FIRST) \
	  LUA_FUZZ_CALLS=$(LUA_FUZZ_CALLS) SANDLUA=$(CURDIR)/$(B)/sandlua \
	  $(PYTHON) -m pytest -q -p no:cacheprovider \
	  tests/integration/test_lua_api_fuzz.py

fuzz: fuzz-lua-api

.PHONY: fuzz-lua-api
