# libp4pprovider.a: what a provider knows and computes: the provider file
# (PoPs, links, PIDs, classes, clients, policies), the routed topology and
# the P4P optimizer.  Linked by the iTracker and the simulator, never by the
# tracker.  Needs the protocol library, GLPK (the fast solver's small master
# LPs) and libm.  The exact whole-LP reference is a test oracle, in
# tests/oracle/.
PROV_SRCS := $(wildcard provider/*.c)
PROV_OBJS := $(PROV_SRCS:%.c=$(BUILD)/obj/%.o)
PROV_LIB  := $(BUILD)/libp4pprovider.a
PROV_LINK := $(PROV_LIB) $(PROTO_LINK) -lglpk -lm

ALL_TARGETS += $(PROV_LIB)

$(BUILD)/obj/provider/%.o: provider/%.c $(OUR_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -fPIC -I$(TOP) -c -o $@ $<

$(PROV_LIB): $(PROV_OBJS)
	@rm -f $@.tmp
	@ar rcs $@.tmp $^ && mv -f $@.tmp $@
