# The simulator: build/p4psim, its unit tests, a small scenario check in
# `make test`, and `make eval` (docs/EVALUATION.md, docs/eval/*.png,
# build/eval/summary.json).  See docs/SIMULATOR.md.
SIM_LIB_SRCS := sim/maxmin.c sim/bt.c sim/heap.c sim/traffic.c sim/sim.c
SIM_LIB_OBJS := $(SIM_LIB_SRCS:%.c=$(BUILD)/obj/%.o)
SIM_HDRS     := $(wildcard sim/*.h)

ALL_TARGETS  += $(BUILD)/p4psim
TEST_TARGETS += sim-scenario-test

$(BUILD)/obj/sim/%.o: sim/%.c $(SIM_HDRS) $(P4P_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) $(BASEFLAGS) $(XML_CFLAGS) -Isim -Ip4p -c -o $@ $<

$(BUILD)/libp4psim.a: $(SIM_LIB_OBJS)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/p4psim: $(BUILD)/obj/sim/main.o $(BUILD)/libp4psim.a $(BUILD)/libp4p.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -o $@ $< $(BUILD)/libp4psim.a $(BUILD)/libp4p.a $(P4P_LIBS)

# Simulator unit tests link the simulator library too.  This rule's stem is
# shorter than tests/module.mk's, so make prefers it for test_sim*.
$(BUILD)/tests/test_sim%: tests/unit/test_sim%.c $(UNIT_HDRS) $(SIM_HDRS) $(BUILD)/libp4psim.a $(BUILD)/libp4p.a
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS) $(BASEFLAGS) $(XML_CFLAGS) -Isim -Ip4p -Itests/unit -o $@ $< $(BUILD)/libp4psim.a $(BUILD)/libp4p.a -lcmocka $(P4P_LIBS)

# A small scenario that must show the direction of the paper's result.
.PHONY: sim-scenario-test eval
sim-scenario-test: $(BUILD)/p4psim
	@echo "== sim scenario check"
	@$(PYTHON) sim/scenario_check.py $(BUILD)/p4psim deploy/providers/abilene.conf $(BUILD)/sim-check

# The whole evaluation: both cores, progress on the terminal.
EVAL_JOBS ?= 2
eval: $(BUILD)/p4psim
	@$(PYTHON) sim/eval.py --sim $(BUILD)/p4psim --jobs $(EVAL_JOBS) --work $(BUILD)/eval --docs docs
