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

# make bench: stock and fork alternately, every scenario and swarm shape, both
# families, UDP and HTTP; writes build/bench/summary.json and docs/BENCHMARKS.md.
# BENCH_ARGS passes options to the runner (e.g. BENCH_ARGS=--quick).
.PHONY: bench
bench: $(BUILD)/p4p-loadgen $(BUILD)/opentracker-stock
	@$(MAKE) --no-print-directory $(BUILD)/opentracker-p4p || echo "bench: the fork does not build; comparing stock with itself (A/A)"
	@-$(MAKE) --no-print-directory $(BUILD)/p4p-optbench $(BUILD)/p4p-selbench 2>/dev/null
	$(PYTHON) bench/run_bench.py --build $(BUILD) --out $(BUILD)/bench --doc docs/BENCHMARKS.md $(BENCH_ARGS)

# Proposed UDP batching (bench/proposals/udp-batch-mmsg.patch, issue 4 item 5),
# built on top of stock and of the fork without touching either:
#   make bench-mmsg   stock, stock+batching, fork (P4P on), fork+batching
BENCH_MMSG_PATCH := bench/proposals/udp-batch-mmsg.patch

$(BUILD)/src/stock-mmsg/.patched: $(OT_TARBALL) $(BENCH_MMSG_PATCH)
	@$(call ot_unpack,$(@D))
	@patch -s -p1 -d $(@D) < $(BENCH_MMSG_PATCH)
	@touch $@

$(BUILD)/src/p4p-mmsg/.patched: $(OT_TARBALL) $(OT_PATCHES) $(BENCH_MMSG_PATCH)
	@$(call ot_unpack,$(@D))
	@for p in $(OT_PATCHES) $(BENCH_MMSG_PATCH); do \
	  patch -s -p1 -d $(@D) < $$p || { echo "patch $$p does not apply" >&2; exit 1; }; done
	@touch $@

$(BUILD)/opentracker-stock-mmsg: $(BUILD)/src/stock-mmsg/.patched
	@echo "  CC      $@"
	@$(OT_MAKE) -C $(BUILD)/src/stock-mmsg FEATURES="$(OT_FEATURES)" CFLAGS="$(OT_CFLAGS)" LDFLAGS="$(OT_LIBS)"
	@cp $(BUILD)/src/stock-mmsg/opentracker $@.tmp && mv -f $@.tmp $@

# rm first: upstream's Makefile does not relink when only libp4p.a changed
$(BUILD)/opentracker-p4p-mmsg: $(BUILD)/src/p4p-mmsg/.patched $(BUILD)/libp4p.a
	@echo "  CC      $@"
	@rm -f $(BUILD)/src/p4p-mmsg/opentracker
	@$(OT_MAKE) -C $(BUILD)/src/p4p-mmsg FEATURES="$(OT_FEATURES) -DWANT_P4P" \
	  CFLAGS="$(OT_CFLAGS) -I$(TOP)/p4p" LDFLAGS="$(TOP)/$(BUILD)/libp4p.a $(P4P_LIBS) $(OT_LIBS)"
	@cp $(BUILD)/src/p4p-mmsg/opentracker $@.tmp && mv -f $@.tmp $@

.PHONY: bench-mmsg
bench-mmsg: $(BUILD)/p4p-loadgen $(BUILD)/opentracker-stock $(BUILD)/opentracker-stock-mmsg \
            $(BUILD)/opentracker-p4p $(BUILD)/opentracker-p4p-mmsg
	$(PYTHON) bench/run_bench.py --build $(BUILD) --compare stock-mmsg,p4p,p4p-mmsg \
	  --out $(BUILD)/bench-mmsg --doc $(BUILD)/bench-mmsg/BENCHMARKS-mmsg.md $(BENCH_ARGS)
