# sandlua - a Lua 5.4 interpreter for code you do not trust.
#
#   make            build build/sandlua
#   make demo       install missing dependencies, build, run the demo
#   make check      install missing dependencies, build, run every test
#   make check-asan the same suites on an ASan+UBSan build (build-asan/)
#   make deps       install missing Debian build and test dependencies
#   make bench      run the side-by-side benchmarks under bench/
#   make clean
#
# Project flags live in their own variables, so CFLAGS/CPPFLAGS/LDFLAGS from
# the environment (dpkg-buildflags hardening) are added, not replaced.

PKGS     = lua5.4 yaml-0.1 libseccomp openssl libcares zlib
WARN     = -Wall -Wextra -Werror -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2
CFLAGS  ?= -O2 -g
XCFLAGS  = -std=c11 -D_GNU_SOURCE $(WARN) $(shell pkg-config --cflags $(PKGS))
# STATIC_LIBS are linked from their static archives where the system has
# them (RPM systems ship few; a library without one is linked shared).  The
# Lua VM then runs as fast as stock lua5.4's, which links liblua statically
# too, and start-up does not load and relocate a dozen shared libraries.
# Distribution packages link only liblua statically, so that security
# updates of the other libraries reach sandlua (docs/packaging.md);
# STATIC_LIBS= links everything shared.
STATIC_LIBS ?= lua5.4 yaml seccomp ssl crypto cares z
archive  = $(filter /%,$(shell $(CC) -print-file-name=lib$(1).a))
linklib  = $(if $(and $(filter $(1),$(STATIC_LIBS)),$(call archive,$(1))),$\
             -l:lib$(1).a,-l$(1))
PKGLIBS  = $(shell pkg-config --libs $(PKGS))
badstatic = $(filter-out $(patsubst -l%,%,$(filter -l%,$(1))),$(STATIC_LIBS))
LIBS     = $(if $(call badstatic,$(PKGLIBS)),$(error STATIC_LIBS: \
             $(call badstatic,$(PKGLIBS)): not among the libraries sandlua \
             links ($(patsubst -l%,%,$(filter -l%,$(PKGLIBS))))))$(foreach \
             f,$(PKGLIBS),$(if $(filter -l%,$(f)),$(call \
             linklib,$(f:-l%=%)),$(f))) -lm
# Build folder; the sanitizer build uses its own.
B       ?= build
# The Python that has Debian's python3-websockets and python3-pytest.
PYTHON  ?= /usr/bin/python3
SAN      = -O1 -g -fsanitize=address,undefined -fno-sanitize-recover=all \
           -fno-omit-frame-pointer

# `make` alone builds sandlua.
.DEFAULT_GOAL := all

# The layers, lowest first.  A layer's code may call only its own layer and
# the layers it USES (listed in link order); each is an archive, and every
# unit test links only the layers of the headers it includes, so a call
# that breaks the layering is a link error (and tests/integration/
# test_layers.py checks the whole graph, cycles between files included).
#   common    C primitives every layer needs (no Lua, no libraries)
#   security  the policy engine (no Lua)
#   sandbox   limits, seccomp, Landlock, the safe Lua environment
#   net       the event loop, WebSocket protocol engine, TLS, DNS (no Lua)
#   stdlib    the Lua modules
#   interp    the command line (main.c is linked apart)
LAYERS        = common security sandbox net stdlib interp
USES_common   = common
USES_security = security common
USES_sandbox  = sandbox common
USES_net      = net common
USES_stdlib   = stdlib net sandbox security common
USES_interp   = interp stdlib net sandbox security common
layer_srcs    = $(filter-out interp/main.c $(wildcard $(1)/gen/*.c),$\
                  $(sort $(wildcard $(1)/*.c $(1)/*/*.c)))
layer_lib     = $(B)/lib$(1).a
layer_libs    = $(foreach l,$(USES_$(1)),$(call layer_lib,$(l)))

SRCS     = $(foreach l,$(LAYERS),$(call layer_srcs,$(l))) interp/main.c
OBJS     = $(SRCS:%.c=$(B)/%.o)
LIBOBJS  = $(filter-out $(B)/interp/main.o,$(OBJS))
ARCHIVES = $(call layer_libs,interp)
UNITS    = $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))

$(foreach l,$(LAYERS),$(eval $(call layer_lib,$(l)): \
  $(patsubst %.c,$(B)/%.o,$(call layer_srcs,$(l)))))
$(B)/lib%.a:
	@rm -f $@
	$(AR) rcs $@ $^

# A unit test's layers: those whose headers it includes (through the local
# headers of tests/unit/ too), each with what it uses, highest first.
unit_incs     = $(shell sed -n 's|^\#include "\(\.\./\.\./\)*\([a-z_]*\)/.*|\2|p; \
                  s|^\#include "\([a-z_]*\.h\)"|tests/unit/\1|p' $(1))
unit_layers   = $(filter $(LAYERS),$(foreach i,$(call unit_incs,$(1)),$(if \
                  $(filter tests/unit/%,$(i)),$(call unit_incs,$(i)),$(i))))
unit_libs     = $(foreach l,$(LAYERS),$(if $(filter $(l),$(foreach u,$(call \
                  unit_layers,$(1)),$(USES_$(u)))),$(call layer_lib,$(l))))
reverse       = $(if $(1),$(call reverse,$(wordlist 2,$(words $(1)),$(1))) \
                  $(firstword $(1)))

all: $(B)/sandlua

# Where the Lua VM lands modulo the page size moves with every change of the
# code linked before it, and the VM's speed with it: up to 20% on n-body
# (bench/sandbox).  sandlua is linked twice, the second time with padding
# right before liblua's objects (scripts/vm-pad.sh), so that luaV_execute
# sits at VM_OFFSET modulo 4096 whatever the rest of the code: where
# Debian 12's lua5.4 has it, and as fast (0.99-1.03x lua5.4).  A multiple
# of 16 below 4096 (functions are 16-byte aligned); anything else is an error.
# The result is checked after the link: a linker flag that moves the VM
# elsewhere fails the build, naming VM_OFFSET= (no padding, one link).
VM_OFFSET ?= 0x3a0

$(B)/sandlua: $(B)/interp/main.o $(ARCHIVES)
ifeq ($(strip $(VM_OFFSET)),)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)
else
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@.tmp $^ $(LIBS)
	scripts/vm-pad.sh $@.tmp $(VM_OFFSET) >$(B)/vm-pad.s
	$(CC) -c -o $(B)/vm-pad.o $(B)/vm-pad.s
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@.tmp $^ $(B)/vm-pad.o $(LIBS)
	scripts/vm-pad.sh --check $@.tmp $(VM_OFFSET)
	@mv $@.tmp $@
endif

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

.SECONDEXPANSION:
$(B)/tests/test_%: tests/unit/test_%.c $$(call unit_libs,tests/unit/test_$$*.c)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) -Wno-missing-prototypes $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) \
	  -o $@ $< $(call reverse,$(call unit_libs,$<)) $(LIBS) -lcmocka

units: $(UNITS)

deps:
	@scripts/deps.sh

# Every suite; the last line is "N passed, N failed".
check: deps
	@$(MAKE) --no-print-directory all units
	@B=$(B) PYTHON=$(PYTHON) tests/run.sh

check-asan: deps
	@$(MAKE) --no-print-directory B=build-asan CFLAGS='$(SAN)' \
	  LDFLAGS='-fsanitize=address,undefined' all units
	@B=build-asan PYTHON=$(PYTHON) SANITIZED=1 tests/run.sh

demo: deps
	@$(MAKE) --no-print-directory all
	@B=$(B) PYTHON=$(PYTHON) examples/demo.sh

bench: deps
	@$(MAKE) --no-print-directory all
	@for b in bench/*/run; do echo "== $$b"; B=$(B) $$b || exit 1; done

clean:
	rm -rf build build-asan build-fuzz

# Each module may add targets (fuzz, benchmarks, ...) in a fragment.
-include mk/*.mk
-include $(OBJS:.o=.d)

.PHONY: all units deps check check-asan demo bench clean
