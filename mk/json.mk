# json: a libFuzzer target (needs clang).
#   make fuzz-json                  run it for FUZZ_TIME seconds (one process);
#                                   `make fuzz` runs it with the others
# The corpus starts from tests/fuzz/json_seeds/ and grows in build-fuzz/.
JSON_FUZZ_CC   ?= clang
# Seconds of fuzzing for one `make fuzz-json`.
FUZZ_TIME      ?= 60
JSON_FUZZ_SRCS  = $(filter-out interp/main.c,$(SRCS))

# (seccomp.c includes the filter and names generated in $(B)/gen.)
build-fuzz/fuzz_json: tests/fuzz/fuzz_json.c $(JSON_FUZZ_SRCS) \
                      | $(B)/gen/seccomp_filter.inc $(B)/gen/syscall_names.inc
	@mkdir -p $(@D)
	$(JSON_FUZZ_CC) -std=c11 -D_GNU_SOURCE -g -O1 \
	  -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=all \
	  $(shell pkg-config --cflags $(PKGS)) -I$(B)/gen -o $@ $^ $(LIBS)

fuzz-json: build-fuzz/fuzz_json
	@mkdir -p build-fuzz/json_corpus
	build-fuzz/fuzz_json -max_total_time=$(FUZZ_TIME) \
	  -max_len=4096 build-fuzz/json_corpus tests/fuzz/json_seeds

fuzz: fuzz-json

.PHONY: fuzz-json
