# Targets of the security layer (included by the Makefile).
#
#   make fuzz               (with the other fragments) build and run every
#                           libFuzzer target for FUZZ_TIME seconds each, one
#                           at a time (-jobs=1: the machine is shared)
#   make fuzz-security      only the policy loader and URL parser targets
#   make bench-policy       the policy decision benchmark (bench/policy/run)
#
# The fuzzers need clang (scripts/deps.sh installs it only for `make fuzz`;
# `make check` does not build them).

# Seconds each fuzzer runs in `make fuzz` (every fragment uses it).
FUZZ_TIME    ?= 60
FUZZ_CC      ?= clang
FUZZ_FLAGS    = -g -O1 -fsanitize=fuzzer,address,undefined \
                -fno-sanitize-recover=all -std=c11 -D_GNU_SOURCE
FUZZ_SRCS     = $(wildcard security/*.c) $(wildcard common/*.c)
FUZZ_TARGETS  = build-fuzz/fuzz_policy_yaml build-fuzz/fuzz_url

fuzz: fuzz-security

fuzz-deps:
	@FUZZ=1 scripts/deps.sh

build-fuzz/fuzz_%: tests/fuzz/fuzz_%.c $(FUZZ_SRCS) security/*.h common/*.h
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_FLAGS) -o $@ $< $(FUZZ_SRCS) \
	  $(shell pkg-config --cflags --libs yaml-0.1) -lm

fuzz-security: fuzz-deps $(FUZZ_TARGETS)
	@for t in $(FUZZ_TARGETS); do \
	  n=$$(basename $$t); mkdir -p build-fuzz/corpus/$$n; \
	  echo "== $$n ($(FUZZ_TIME)s)"; \
	  $$t -max_total_time=$(FUZZ_TIME) -max_len=65536 \
	    -artifact_prefix=build-fuzz/ \
	    build-fuzz/corpus/$$n tests/fuzz/corpus/$$n || exit 1; \
	done

# The benchmark program; bench/policy/run builds and runs it.
$(B)/bench/policy_bench: bench/policy/policy_bench.c $(call layer_libs,security)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) -Wno-missing-prototypes $(CPPFLAGS) $(CFLAGS) \
	  $(LDFLAGS) -o $@ $^ $(LIBS)

bench-policy: $(B)/bench/policy_bench
	@B=$(B) bench/policy/run

.PHONY: fuzz fuzz-deps fuzz-security bench-policy
