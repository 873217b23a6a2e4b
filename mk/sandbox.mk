# sandbox/: the try-syscall test program, built with the unit tests and run
# by tests/integration/test_sandbox.py.
$(B)/tests/try-syscall: tests/sandbox/try-syscall.c $(B)/sandbox/seccomp.o
	@mkdir -p $(@D)
	$(CC) $(XCFLAGS) $(CPPFLAGS) $(CFLAGS) $(LDFLAGS) -o $@ $^ $(LIBS)

units: $(B)/tests/try-syscall

# The sandbox benchmark (also run by `make bench`).
bench-sandbox: all
	@B=$(B) bench/sandbox/run

.PHONY: bench-sandbox
