# mk/wsproto.mk - fuzzing and benchmark of the WebSocket protocol engine
# (net/wsp_*.c).  Included by the Makefile.
#
#   make fuzz                   every fuzz target, one after the other
#   make fuzz-wsproto-frames    frame parser + message layer
#   make fuzz-wsproto-handshake handshake response parser
#   make bench                  includes bench/wsproto/run
#
# Fuzzers use clang's libFuzzer with ASan+UBSan and run one at a time, each
# as a single process (what -jobs=1 gives, without its fuzz-N.log files in
# the working directory): the machine is shared.  New inputs go to build-fuzz/corpus/<t>;
# the committed seeds are tests/fuzz/corpus/<t> (read only while fuzzing;
# `make fuzz-wsproto-merge` folds new coverage back into them).

# Compiler with libFuzzer.
FUZZ_CC ?= clang
# Seconds each fuzz target runs.
FUZZ_TIME ?= 60
FUZZ_CFLAGS = -g -O1 -fsanitize=fuzzer,address,undefined \
              -fno-sanitize-recover=all -fno-omit-frame-pointer -std=c11 \
              -D_GNU_SOURCE $(shell pkg-config --cflags openssl zlib)
FUZZ_LIBS = $(shell pkg-config --libs openssl zlib)
WSP_SRCS = $(sort $(wildcard net/wsp_*.c)) $(wildcard common/*.c)
WSP_HDRS = $(wildcard net/wsp*.h) $(wildcard common/*.h)
WSP_FUZZ = fuzz-wsproto-frames fuzz-wsproto-handshake

build-fuzz/fuzz-wsproto-%: tests/fuzz/fuzz_wsproto_%.c $(WSP_SRCS) $(WSP_HDRS)
	@command -v $(FUZZ_CC) >/dev/null || \
	  { echo "fuzz: $(FUZZ_CC) not found (apt-get install clang)"; exit 1; }
	@mkdir -p $(@D)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -o $@ $< $(WSP_SRCS) $(FUZZ_LIBS)

$(WSP_FUZZ): fuzz-wsproto-%: build-fuzz/fuzz-wsproto-%
	@mkdir -p build-fuzz/corpus/wsproto-$* tests/fuzz/corpus/wsproto-$*
	build-fuzz/fuzz-wsproto-$* -max_total_time=$(FUZZ_TIME) \
	  -max_len=65536 -print_final_stats=1 -artifact_prefix=build-fuzz/ \
	  build-fuzz/corpus/wsproto-$* tests/fuzz/corpus/wsproto-$*

# Add the inputs that bring new coverage to the committed corpora.
fuzz-wsproto-merge: $(WSP_FUZZ:%=build-fuzz/%)
	for t in frames handshake; do \
	  build-fuzz/fuzz-wsproto-$$t -merge=1 tests/fuzz/corpus/wsproto-$$t \
	    build-fuzz/corpus/wsproto-$$t || exit 1; done

# Other fragments add their own targets to `fuzz` the same way.
fuzz: $(WSP_FUZZ)

# The benchmark binary, built with the project's flags from $(B)'s objects.
$(B)/bench/wsproto: bench/wsproto/bench.c $(call layer_libs,net)
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) -Wno-missing-prototypes $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) \
	  -o $@ $^ $(LIBS)

.PHONY: fuzz $(WSP_FUZZ) fuzz-wsproto-merge
