# libp4pproto.a: the P4P protocol: message structs, their XML v1 form
# (hardened parser, writers), the text forms of addresses and hashes, and
# their ALTO (RFC 7285) JSON form (alto*.c, on jansson).  Needs libxml2 and
# jansson.  The tracker module and the provider side both link it.
PROTO_SRCS := $(wildcard proto/*.c)
PROTO_OBJS := $(PROTO_SRCS:%.c=$(BUILD)/obj/%.o)
PROTO_LIB  := $(BUILD)/libp4pproto.a
JANSSON_LIBS := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)
PROTO_LINK := $(PROTO_LIB) $(XML_LIBS) $(JANSSON_LIBS)

ALL_TARGETS += $(PROTO_LIB)

$(BUILD)/obj/proto/%.o: proto/%.c $(OUR_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -fPIC $(XML_CFLAGS) -I$(TOP) -c -o $@ $<

$(PROTO_LIB): $(PROTO_OBJS)
	@rm -f $@.tmp
	@ar rcs $@.tmp $^ && mv -f $@.tmp $@
