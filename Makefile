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

PKGS     = lua5.4 libwebsockets yaml-0.1 libseccomp openssl libcares zlib
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
STATIC_LIBS ?= lua5.4 websockets cap yaml seccomp ssl crypto cares z
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

SRCS     = $(sort $(wildcard interp/*.c stdlib/*.c stdlib/websocket/*.c \
                             security/*.c sandbox/*.c))
OBJS     = $(SRCS:%.c=$(B)/%.o)
LIBOBJS  = $(filter-out $(B)/interp/main.o,$(OBJS))
UNITS    = $(patsubst tests/unit/%.c,$(B)/tests/%,$(wildcard tests/unit/test_*.c))

all: $(B)/sandlua

# Where the Lua VM lands modulo the page size moves with every change of the
# code linked before it, and the VM's speed with it: up to 20% on n-body
# (bench/sandbox).  sandlua is linked twice, the second time with padding
# right before liblua's objects (scripts/vm-pad.sh), so that luaV_execute
# sits at VM_OFFSET modulo 4096 whatever the rest of the code: where
# Debian 12's lua5.4 has it, and as fast (0.99-1.03x lua5.4).  A multiple
# of 16 below 4096 (functions are 16-byte aligned); anything else is an error.
VM_OFFSET ?= 0x3a0

$(B)/sandlua: $(OBJS)
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@.tmp $^ $(LIBS)
	scripts/vm-pad.sh $@.tmp $(VM_OFFSET) >$(B)/vm-pad.s
	$(CC) -c -o $(B)/vm-pad.o $(B)/vm-pad.s
	$(CC) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(B)/vm-pad.o $(LIBS)
	@rm -f $@.tmp

$(B)/%.o: %.c
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CPPFLAGS) $(CFLAGS) -MMD -MP -c -o $@ $<

$(B)/tests/test_%: tests/unit/test_%.c $(LIBOBJS)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) -Wno-missing-prototypes $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) \
	  -o $@ $< $(LIBOBJS) $(LIBS) -lcmocka

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
