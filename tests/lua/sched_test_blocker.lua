-- Loaded by sched_test.lua: blocking inside require must raise.
time.sleep(0)
