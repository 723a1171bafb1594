# libp4p.a: the tracker's P4P module, what the patched opentracker links.
# Upstream code includes only p4p/p4p.h.  Needs the protocol library,
# libcurl (portal client) and pthreads; never the provider library.
P4P_SRCS := $(wildcard p4p/*.c)
P4P_OBJS := $(P4P_SRCS:%.c=$(BUILD)/obj/%.o)
P4P_LIB  := $(BUILD)/libp4p.a
CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
P4P_LINK := $(P4P_LIB) $(PROTO_LINK) $(CURL_LIBS) -lm -pthread

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
