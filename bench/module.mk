# bench/: the load generator and `make bench` (fork against stock opentracker).
# The benchmark is not part of `make test` (its numbers depend on the machine
# and its load); the generator's own tests are.
LOADGEN_SRCS := bench/loadgen.c bench/lg_workload.c bench/lg_stats.c bench/lg_engine.c bench/lg_udp.c bench/lg_http.c
LOADGEN_OBJS := $(LOADGEN_SRCS:%.c=$(BUILD)/obj/%.o)
LOADGEN_HDRS := $(wildcard bench/lg_*.h)

ALL_TARGETS += $(BUILD)/p4p-loadgen

$(BUILD)/obj/bench/%.o: bench/%.c $(LOADGEN_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -c -o $@ $<

$(BUILD)/p4p-loadgen: $(LOADGEN_OBJS)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -o $@ $^ -lm

# the optimizer's microbenchmark (owned by the optimizer engineer; the top
# Makefile includes the lead's bench/selbench.mk); the runner folds their
# output into the report when they are built
-include bench/optbench.mk

# unit tests of the generator's workload model and statistics (these are part
# of make test; the benchmark itself is not)
LOADGEN_LIB_OBJS := $(filter-out %/loadgen.o,$(LOADGEN_OBJS))
ALL_TARGETS  += $(BUILD)/bench-tests/test_loadgen
TEST_TARGETS += loadgen-tests

$(BUILD)/bench-tests/test_loadgen: bench/tests/test_loadgen.c $(LOADGEN_LIB_OBJS) $(LOADGEN_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -Ibench -o $@ $< $(LOADGEN_LIB_OBJS) -lcmocka -lm

.PHONY: loadgen-tests
loadgen-tests: $(BUILD)/bench-tests/test_loadgen $(BUILD)/p4p-loadgen $(BUILD)/opentracker-stock
	@echo "== $(BUILD)/bench-tests/test_loadgen"
	@$(BUILD)/bench-tests/test_loadgen
	@cd bench/tests && BUILD_DIR=$(TOP)/$(BUILD) $(PYTHON) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) .

# make bench: stock, stock + batching, the fork without and with P4P, and
# the fork + batching, every shape, both families, UDP and HTTP; writes
# build/bench/summary.json and docs/BENCHMARKS.md.  BENCH_ARGS passes options
# to the runner (e.g. BENCH_ARGS=--quick, BENCH_ARGS=--big for 10M peers over
# the network).  UDP batching is patches/optional/udp-batched-datagrams.patch,
# not part of the fork: only the *-batch builds have it.
.PHONY: bench
bench: $(BUILD)/p4p-loadgen $(BUILD)/opentracker-stock
	@$(MAKE) --no-print-directory $(BUILD)/opentracker-p4p $(BUILD)/opentracker-stock-batch $(BUILD)/opentracker-p4p-batch || \
	  echo "bench: a variant does not build; the report says which is missing"
	@-$(MAKE) --no-print-directory $(BUILD)/p4p-optbench $(BUILD)/p4p-selbench 2>/dev/null
	$(PYTHON) bench/run_bench.py --build $(BUILD) --out $(BUILD)/bench --doc docs/BENCHMARKS.md $(BENCH_ARGS)

# p4p-connidbench: the UDP connection id check's cost per packet (see
# bench/connidbench.c), built against stock's tree and the fork's.  Not part
# of `make bench`'s report: `make bench-connid` runs both.
CONNIDBENCH_OBJS = $(filter-out %/opentracker.o %/ot_udp.o,$(wildcard $(1)/*.o))

$(BUILD)/p4p-connidbench-stock: bench/connidbench.c $(BUILD)/opentracker-stock
	@echo "  CC      $@"
	@$(CC) $(OT_CFLAGS) $(OT_FEATURES) -I$(BUILD)/src/stock -o $@ $< $(call CONNIDBENCH_OBJS,$(BUILD)/src/stock) $(OT_LIBS)

$(BUILD)/p4p-connidbench: bench/connidbench.c $(BUILD)/opentracker-p4p
	@echo "  CC      $@"
	@$(CC) $(OT_CFLAGS) $(OT_FEATURES) -DWANT_P4P -DCONNIDBENCH_FORK -I$(BUILD)/src/p4p -Ip4p -o $@ $< \
	  $(call CONNIDBENCH_OBJS,$(BUILD)/src/p4p) $(BUILD)/libp4p.a $(P4P_LIBS) $(OT_LIBS)

.PHONY: bench-connid
bench-connid: $(BUILD)/p4p-connidbench-stock $(BUILD)/p4p-connidbench
	@taskset -c 1 $(BUILD)/p4p-connidbench-stock $(CONNIDBENCH_N)
	@taskset -c 1 $(BUILD)/p4p-connidbench $(CONNIDBENCH_N)
