# libp4p.a: the P4P module.  Every p4p/*.c goes in; the tracker, the
# iTracker, the simulator and the tests link the same library.
P4P_SRCS := $(wildcard p4p/*.c)
P4P_OBJS := $(P4P_SRCS:%.c=$(BUILD)/obj/%.o)
P4P_HDRS := $(wildcard p4p/*.h)
GLPK_LIBS := -lglpk
# what a program linking libp4p.a needs besides it
CURL_LIBS := $(shell pkg-config --libs libcurl 2>/dev/null || echo -lcurl)
P4P_LIBS := $(XML_LIBS) $(GLPK_LIBS) $(CURL_LIBS) -lm -pthread

ALL_TARGETS += $(BUILD)/libp4p.a

$(BUILD)/obj/p4p/%.o: p4p/%.c $(P4P_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -fPIC $(XML_CFLAGS) -Ip4p -c -o $@ $<

# built aside and renamed, so a link running meanwhile never sees half of it
$(BUILD)/libp4p.a: $(P4P_OBJS)
	@rm -f $@.tmp
	@ar rcs $@.tmp $^ && mv -f $@.tmp $@
