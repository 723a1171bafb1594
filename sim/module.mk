# The simulator: build/p4psim, its unit tests, a small scenario check in
# `make test`, and `make eval` (docs/EVALUATION.md, docs/eval/*.png,
# build/eval/summary.json).  See docs/SIMULATOR.md.
SIM_LIB_SRCS := sim/maxmin.c sim/bt.c sim/heap.c sim/peerlist.c sim/traffic.c sim/sim.c
SIM_LIB_OBJS := $(SIM_LIB_SRCS:%.c=$(BUILD)/obj/%.o)
SIM_HDRS     := $(wildcard sim/*.h)

ALL_TARGETS  += $(BUILD)/p4psim
TEST_TARGETS += sim-scenario-test

$(BUILD)/obj/sim/%.o: sim/%.c $(SIM_HDRS) $(OUR_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -I$(TOP) -Isim -c -o $@ $<

$(BUILD)/libp4psim.a: $(SIM_LIB_OBJS)
	@rm -f $@
	@ar rcs $@ $^

$(BUILD)/p4psim: $(BUILD)/obj/sim/main.o $(BUILD)/libp4psim.a $(P4P_LIB) $(PROV_LIB) $(PROTO_LIB)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -o $@ $< $(BUILD)/libp4psim.a $(P4P_LINK) $(PROV_LINK)

# A small scenario that must show the direction of the paper's result.
.PHONY: sim-scenario-test eval
sim-scenario-test: $(BUILD)/p4psim
	@echo "== sim scenario check"
	@$(PYTHON) sim/scenario_check.py $(BUILD)/p4psim deploy/providers/abilene.conf $(BUILD)/sim-check

# The whole evaluation: both cores, progress on the terminal.
EVAL_JOBS ?= 2
eval: $(BUILD)/p4psim
	@$(PYTHON) sim/eval.py --sim $(BUILD)/p4psim --jobs $(EVAL_JOBS) --work $(BUILD)/eval --docs docs
