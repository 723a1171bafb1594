# Upstream opentracker: fetched (fetch.sh), unpacked twice, patched once.
#   $(BUILD)/opentracker-stock  upstream as released, our flags, no patches
#   $(BUILD)/opentracker-p4p    upstream + patches/ + libp4p
# Both use the same compiler flags and features, so benchmarks compare like
# with like.

OT_CACHE    := build/cache
OT_TARBALL  := $(OT_CACHE)/$(shell sed -n 's/^tarball=//p' opentracker/PIN)
OT_PATCHES  := $(sort $(wildcard patches/*.patch))
OT_FEATURES := -DWANT_FULLSCRAPE -DWANT_NO_AUTO_FREE -DWANT_COMPRESSION_GZIP
OT_CFLAGS   := -O3 -g -I/usr/include/libowfat -DGIT_VERSION=upstream -Wall -pipe -pthread $(SANFLAGS)
OT_LIBS     := -lowfat -lz -pthread $(SANFLAGS)
# upstream's Makefile warns about its suffix rules on every run; nothing else is hidden
OT_QUIET    := { grep -v 'ignoring prerequisites on suffix rule' || true; }
OT_MAKE     = $(MAKE) --no-print-directory -s opentracker STRIP=true OPTS_production= \
              LIBOWFAT_HEADERS=/usr/include/libowfat LIBOWFAT_LIBRARY=/usr/lib

ALL_TARGETS += $(BUILD)/opentracker-stock $(BUILD)/opentracker-p4p

$(OT_TARBALL): opentracker/PIN opentracker/fetch.sh
	@opentracker/fetch.sh $(OT_CACHE)
	@touch $@

# unpack DIR: a fresh upstream tree in DIR
define ot_unpack
	rm -rf $(1) && mkdir -p $(1)
	tar -xJf $(OT_TARBALL) -C $(1) --strip-components=1
endef

$(BUILD)/src/stock/.unpacked: $(OT_TARBALL)
	@$(call ot_unpack,$(@D))
	@touch $@

$(BUILD)/src/p4p/.patched: $(OT_TARBALL) $(OT_PATCHES)
	@$(call ot_unpack,$(@D))
	@for p in $(OT_PATCHES); do \
	  patch -s -p1 -d $(@D) < $$p || { echo "patch $$p does not apply" >&2; exit 1; }; done
	@touch $@

$(BUILD)/opentracker-stock: $(BUILD)/src/stock/.unpacked
	@echo "  CC      $@"
	@set -o pipefail; $(OT_MAKE) -C $(BUILD)/src/stock FEATURES="$(OT_FEATURES)" CFLAGS="$(OT_CFLAGS)" LDFLAGS="$(OT_LIBS)" 2>&1 | $(OT_QUIET)
	@cp $(BUILD)/src/stock/opentracker $@.tmp && mv -f $@.tmp $@

$(BUILD)/opentracker-p4p: $(BUILD)/src/p4p/.patched $(BUILD)/libp4p.a
	@echo "  CC      $@"
	@set -o pipefail; $(OT_MAKE) -C $(BUILD)/src/p4p FEATURES="$(OT_FEATURES) -DWANT_P4P" \
	  CFLAGS="$(OT_CFLAGS) -I$(TOP)/p4p" LDFLAGS="$(TOP)/$(BUILD)/libp4p.a $(P4P_LIBS) $(OT_LIBS)" 2>&1 | $(OT_QUIET)
	@cp $(BUILD)/src/p4p/opentracker $@.tmp && mv -f $@.tmp $@
