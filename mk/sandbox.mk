# sandbox/: the try-syscall test program, built with the unit tests and run
# by tests/integration/test_sandbox.py.
$(B)/tests/try-syscall: tests/sandbox/try-syscall.c $(B)/sandbox/seccomp.o \
                      $(B)/sandbox/sigsafe.o $(B)/sandbox/landlock.o \
                      $(B)/common/errbuf.o
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

units: $(B)/tests/try-syscall

# The sandbox benchmark (also run by `make bench`).
bench-sandbox: all
	@B=$(B) bench/sandbox/run

.PHONY: bench-sandbox

# The SIGSYS handler names a refused system call from a table made here,
# from the C library's <sys/syscall.h>, rather than asking libseccomp for
# every number at start-up.
$(B)/gen/syscall_names.inc: mk/sandbox.mk
	@mkdir -p $(@D)
	echo '#include <sys/syscall.h>' | $(CC) -E -dM - | \
	  sed -n 's/^#define __NR_\([a-z0-9_]*\) \([0-9]*\)$$/  [\2] = "\1",/p' \
	  >$@.tmp
	@test -s $@.tmp || { echo "no system call numbers found" >&2; exit 1; }
	@mv $@.tmp $@
$(B)/sandbox/seccomp.o: $(B)/gen/syscall_names.inc
$(B)/sandbox/seccomp.o: XCFLAGS += -I$(B)/gen

# The seccomp filter's BPF, compiled from the rules in
# sandbox/gen/seccomp_gen.c by libseccomp at build time (the generator runs
# on the build machine: native builds only).
$(B)/gen/seccomp-gen: sandbox/gen/seccomp_gen.c
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $< $(LIBS)
$(B)/gen/seccomp_filter.inc: $(B)/gen/seccomp-gen
	$< >$@.tmp
	@mv $@.tmp $@
$(B)/sandbox/seccomp.o: $(B)/gen/seccomp_filter.inc
