# libp4p.a: the tracker's P4P module, what the patched opentracker links.
# Upstream code includes only p4p/p4p.h.  Needs the protocol library and
# pthreads; never the provider library.  libcurl is not linked: the portal
# client loads it when a provider is configured (p4p/curl_lazy.h), -ldl.
P4P_SRCS := $(wildcard p4p/*.c)
P4P_OBJS := $(P4P_SRCS:%.c=$(BUILD)/obj/%.o)
P4P_LIB  := $(BUILD)/libp4p.a
P4P_LINK := $(P4P_LIB) $(PROTO_LINK) -ldl -lm -pthread

ALL_TARGETS += $(P4P_LIB)

# built with upstream's WANT_SYSLOGS when the tracker is: the module's log
# lines then go where upstream's do (p4p/log.c)
P4P_FEATURES := $(filter -DWANT_SYSLOGS,$(OT_FEATURES))

$(BUILD)/obj/p4p/%.o: p4p/%.c $(OUR_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) $(BASEFLAGS) $(P4P_FEATURES) -fPIC $(XML_CFLAGS) -I$(TOP) -c -o $@ $<

# built aside and renamed, so a link running meanwhile never sees half of it
$(P4P_LIB): $(P4P_OBJS)
	@rm -f $@.tmp
	@ar rcs $@.tmp $^ && mv -f $@.tmp $@
