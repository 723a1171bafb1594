# Upstream opentracker: fetched (fetch.sh), unpacked once per variant.
#   $(BUILD)/opentracker-stock        upstream as released, our flags, no patches
#   $(BUILD)/opentracker-p4p          upstream + patches/*.patch (the fork's series) + libp4p
# and, for benchmarks only, with the optional UDP batching patch on top
# (patches/optional/udp-batched-datagrams.patch, not part of the fork):
#   $(BUILD)/opentracker-stock-batch  upstream + batching
#   $(BUILD)/opentracker-p4p-batch    the fork + batching
# All use the same compiler flags and features, so benchmarks compare like
# with like, and each pair differs by one change.

OT_CACHE    := build/cache
OT_TARBALL  := $(OT_CACHE)/$(shell sed -n 's/^tarball=//p' opentracker/PIN)
OT_PATCHES  := $(sort $(wildcard patches/*.patch))
OT_BATCH    := patches/optional/udp-batched-datagrams.patch
OT_FEATURES := -DWANT_FULLSCRAPE -DWANT_COMPRESSION_GZIP

# libowfat 0.34 from Debian's source package (why: opentracker/LIBOWFAT.PIN),
# built once into build/libowfat for every variant (sanitizers need not
# instrument it).
OWFAT_TARBALL := $(OT_CACHE)/$(shell sed -n 's/^tarball=//p' opentracker/LIBOWFAT.PIN)
OWFAT_DIR     := build/libowfat
OWFAT_LIB     := $(OWFAT_DIR)/libowfat.a
OWFAT_INC     := $(TOP)/$(OWFAT_DIR)/include
# our fixes to it, applied before it is built (why: each patch's header)
OWFAT_PATCHES := $(sort $(wildcard patches/libowfat/*.patch))

# (-Wno-stringop-overflow: upstream passes constants to io_setcookie, which
# 0.34 declares write_only; noise, not a bug)
# Under SAN=1, upstream's files skip UBSan's shift check: libowfat's inline
# byte-order helpers (uint32.h) shift into the sign bit, which is theirs to
# mend; libp4p, linked in, keeps every check.
# In the fuzz build (clang) they skip pointer-overflow as well: upstream's
# vectors add 0 to a NULL data pointer when empty (ot_vector.c), which clang
# flags and every compiler does what is meant with.
OT_SANFLAGS := $(if $(SANFLAGS),$(SANFLAGS) -fno-sanitize=shift $(if $(FUZZ),-fno-sanitize=pointer-overflow))
OT_CFLAGS   := -O3 -g -I$(OWFAT_INC) -I$(OWFAT_INC)/libowfat -DGIT_VERSION=upstream -Wall -Wno-stringop-overflow -pipe -pthread $(OT_SANFLAGS) $(if $(FUZZ),-Wno-unknown-warning-option)
OT_LIBS     := $(TOP)/$(OWFAT_LIB) -lz -pthread $(SANFLAGS)
# upstream's Makefile warns about its suffix rules on every run; nothing else is hidden
OT_QUIET    := { grep -v 'ignoring prerequisites on suffix rule' || true; }
OT_MAKE     = $(MAKE) --no-print-directory -s opentracker STRIP=true OPTS_production= CC="$(CC)" \
              LIBOWFAT_HEADERS=$(OWFAT_INC)/libowfat LIBOWFAT_LIBRARY=$(TOP)/$(OWFAT_DIR)

ALL_TARGETS += $(BUILD)/opentracker-stock $(BUILD)/opentracker-p4p

$(OT_TARBALL): opentracker/PIN opentracker/fetch.sh
	@opentracker/fetch.sh opentracker/PIN $(OT_CACHE)
	@touch $@

$(OWFAT_TARBALL): opentracker/LIBOWFAT.PIN opentracker/fetch.sh
	@opentracker/fetch.sh opentracker/LIBOWFAT.PIN $(OT_CACHE)
	@touch $@

# libowfat's headers include each other as <libowfat/x.h>: install them so.
$(OWFAT_LIB): $(OWFAT_TARBALL) $(OWFAT_PATCHES)
	@echo "  BUILD   libowfat (once, about a minute)"
	@rm -rf $(OWFAT_DIR) && mkdir -p $(OWFAT_DIR)/src $(OWFAT_DIR)/include/libowfat
	@tar -xJf $(OWFAT_TARBALL) -C $(OWFAT_DIR)/src --strip-components=1
	@for p in $(OWFAT_PATCHES); do \
	  patch -s -p1 -d $(OWFAT_DIR)/src < $$p || { echo "patch $$p does not apply" >&2; exit 1; }; done
	@set -o pipefail; $(MAKE) --no-print-directory -s -j2 -C $(OWFAT_DIR)/src libowfat.a 2>&1 | { grep -v "modifier ignored\|^ar " || true; }
	@cp $(OWFAT_DIR)/src/*.h $(OWFAT_DIR)/include/libowfat/
	@cp $(OWFAT_DIR)/src/libowfat.a $@

# unpack DIR: a fresh upstream tree in DIR
define ot_unpack
	rm -rf $(1) && mkdir -p $(1)
	tar -xJf $(OT_TARBALL) -C $(1) --strip-components=1
endef

# patch DIR PATCHES...: apply in order, or say which one does not apply
define ot_patch
for p in $(2); do patch -s -p1 -d $(1) < $$p || { echo "patch $$p does not apply" >&2; exit 1; }; done
endef

$(BUILD)/src/stock/.unpacked: $(OT_TARBALL) $(OWFAT_LIB)
	@$(call ot_unpack,$(@D))
	@touch $@

# p4p/p4p.h too: upstream's makefile does not know that its objects include it
$(BUILD)/src/p4p/.patched: $(OT_TARBALL) $(OT_PATCHES) p4p/p4p.h $(OWFAT_LIB)
	@$(call ot_unpack,$(@D))
	@$(call ot_patch,$(@D),$(OT_PATCHES))
	@touch $@

$(BUILD)/src/stock-batch/.patched: $(OT_TARBALL) $(OT_BATCH) $(OWFAT_LIB)
	@$(call ot_unpack,$(@D))
	@$(call ot_patch,$(@D),$(OT_BATCH))
	@touch $@

$(BUILD)/src/p4p-batch/.patched: $(OT_TARBALL) $(OT_PATCHES) $(OT_BATCH) p4p/p4p.h $(OWFAT_LIB)
	@$(call ot_unpack,$(@D))
	@$(call ot_patch,$(@D),$(OT_PATCHES) $(OT_BATCH))
	@touch $@

# ot_build_stock DIR, ot_build_p4p DIR: upstream's make in DIR with our
# flags (and libp4p), the binary copied to the target
define ot_build_stock
@echo "  CC      $@"
@set -o pipefail; $(OT_MAKE) -C $(1) FEATURES="$(OT_FEATURES)" CFLAGS="$(OT_CFLAGS)" LDFLAGS="$(OT_LIBS)" 2>&1 | $(OT_QUIET)
@cp $(1)/opentracker $@.tmp && mv -f $@.tmp $@
endef

# upstream's make runs in its own tree: our archives by absolute path
OT_P4P_LINK = $(TOP)/$(P4P_LIB) $(TOP)/$(PROTO_LIB) $(XML_LIBS) $(JANSSON_LIBS) -ldl -lm -pthread

define ot_build_p4p
@echo "  CC      $@"
@rm -f $(1)/opentracker # upstream's rule does not know libp4p.a: relink
@set -o pipefail; $(OT_MAKE) -C $(1) FEATURES="$(OT_FEATURES) -DWANT_P4P" CFLAGS="$(OT_CFLAGS) -I$(TOP)/p4p" LDFLAGS="$(OT_P4P_LINK) $(OT_LIBS)" 2>&1 | $(OT_QUIET)
@cp $(1)/opentracker $@.tmp && mv -f $@.tmp $@
endef

$(BUILD)/opentracker-stock: $(BUILD)/src/stock/.unpacked $(OWFAT_LIB)
	$(call ot_build_stock,$(BUILD)/src/stock)

# (the archives by name: this file is included before p4p/ and proto/ set
# P4P_LIB and PROTO_LIB, and prerequisites expand at once; with the
# variables the tracker was never relinked when the libraries changed)
$(BUILD)/opentracker-p4p: $(BUILD)/src/p4p/.patched $(BUILD)/libp4p.a $(BUILD)/libp4pproto.a $(OWFAT_LIB)
	$(call ot_build_p4p,$(BUILD)/src/p4p)

$(BUILD)/opentracker-stock-batch: $(BUILD)/src/stock-batch/.patched $(OWFAT_LIB)
	$(call ot_build_stock,$(BUILD)/src/stock-batch)

$(BUILD)/opentracker-p4p-batch: $(BUILD)/src/p4p-batch/.patched $(BUILD)/libp4p.a $(BUILD)/libp4pproto.a $(OWFAT_LIB)
	$(call ot_build_p4p,$(BUILD)/src/p4p-batch)
