# itracker/: the provider portal daemon, build/p4p-itracker (docs/ITRACKER.md).
ITR_SRCS := $(wildcard itracker/*.c)
ITR_OBJS := $(ITR_SRCS:%.c=$(BUILD)/obj/%.o)
ITR_HDRS := $(wildcard itracker/*.h)
MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS   := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)

ALL_TARGETS += $(BUILD)/p4p-itracker

$(BUILD)/obj/itracker/%.o: itracker/%.c $(ITR_HDRS) $(OUR_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) $(BASEFLAGS) $(MHD_CFLAGS) -I$(TOP) -Iitracker -c -o $@ $<

$(BUILD)/p4p-itracker: $(ITR_OBJS) $(PROV_LIB) $(PROTO_LIB)
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -o $@ $(ITR_OBJS) $(PROV_LINK) $(MHD_LIBS) -pthread
