# p4p-optbench: fast vs exact P4P optimizer (bench/optbench.c).  Included
# by bench/module.mk; run as  $(BUILD)/p4p-optbench DATADIR [--json FILE].
ALL_TARGETS += $(BUILD)/p4p-optbench

# the oracle named literally: ORACLE_OBJ is set by tests/module.mk, included
# after this file, and a rule's prerequisites expand at once
$(BUILD)/p4p-optbench: bench/optbench.c $(BUILD)/obj/tests/oracle/lp_exact.o $(PROV_LIB) $(PROTO_LIB)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -I$(TOP) -o $@ $< $(ORACLE_OBJ) $(PROV_LINK) $(GLPK_LIBS)
