# itracker/: the provider portal daemon, build/p4p-itracker (docs/ITRACKER.md).
ITR_SRCS := $(wildcard itracker/*.c)
ITR_OBJS := $(ITR_SRCS:%.c=$(BUILD)/obj/%.o)
ITR_HDRS := $(wildcard itracker/*.h)
MHD_CFLAGS := $(shell pkg-config --cflags libmicrohttpd 2>/dev/null)
MHD_LIBS   := $(shell pkg-config --libs libmicrohttpd 2>/dev/null || echo -lmicrohttpd)

ALL_TARGETS += $(BUILD)/p4p-itracker

$(BUILD)/obj/itracker/%.o: itracker/%.c $(ITR_HDRS) $(P4P_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) $(BASEFLAGS) $(MHD_CFLAGS) $(XML_CFLAGS) -Ip4p -Iitracker -c -o $@ $<

$(BUILD)/p4p-itracker: $(ITR_OBJS) $(BUILD)/libp4p.a
	@echo "  LD      $@"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -o $@ $(ITR_OBJS) $(BUILD)/libp4p.a $(MHD_LIBS) $(P4P_LIBS)
