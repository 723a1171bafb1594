# p4p-optbench: fast vs exact P4P optimizer (bench/optbench.c).  Included
# by bench/module.mk; run as  $(BUILD)/p4p-optbench DATADIR [--json FILE].
ALL_TARGETS += $(BUILD)/p4p-optbench

$(BUILD)/p4p-optbench: bench/optbench.c $(BUILD)/libp4p.a
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -Ip4p -o $@ $< $(BUILD)/libp4p.a $(P4P_LIBS)
