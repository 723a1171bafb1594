# p4p-selbench: announce logic cost per call (see bench/selbench.c), built
# against stock's objects and against the fork's.  The runner executes both.
SELBENCH_UPSTREAM_OBJS = $(filter-out %/opentracker.o,$(wildcard $(1)/*.o))

$(BUILD)/p4p-selbench-stock: bench/selbench.c $(BUILD)/opentracker-stock
	@echo "  CC      $@"
	@$(CC) $(OT_CFLAGS) $(OT_FEATURES) -I$(BUILD)/src/stock -o $@ $< $(call SELBENCH_UPSTREAM_OBJS,$(BUILD)/src/stock) $(OT_LIBS)

$(BUILD)/p4p-selbench: bench/selbench.c $(BUILD)/opentracker-p4p $(BUILD)/p4p-selbench-stock $(P4P_LIB) $(PROTO_LIB)
	@echo "  CC      $@"
	@$(CC) $(OT_CFLAGS) $(OT_FEATURES) -DSELBENCH_P4P -DWANT_P4P -I$(BUILD)/src/p4p -I$(TOP) -I$(TOP)/p4p -o $@ $< \
	  $(call SELBENCH_UPSTREAM_OBJS,$(BUILD)/src/p4p) $(P4P_LINK) $(OT_LIBS)
