# libFuzzer harnesses for every parser (tests/fuzz/README.md).
#
#   make fuzz                 each target for FUZZ_SECONDS (default 600), two
#                             at a time with -j2; logs and finds in build/fuzz/
#   make fuzz-<target>        one target (e.g. make fuzz-xml_pidmap)
#   make test (fuzz-tests)    every kept crasher once, then each target for
#                             FUZZ_TEST_SECONDS on its seed corpus
#
# The harnesses and the libraries under them are built by clang into
# build/fuzz (make FUZZ=1, see the top Makefile), instrumented for coverage
# and checked by ASan and UBSan.  Seeds: tests/fuzz/corpus/<target>/; inputs
# that once crashed a target: tests/fuzz/crashers/<target>/ (replayed by
# make test, so each stays fixed).

FUZZ_SECONDS      ?= 600
FUZZ_TEST_SECONDS ?= 5
FUZZ_XML_KINDS    := pidmap lookup_request lookup costs guidance stats \
                     capability capability_request error
FUZZ_TARGETS      := $(FUZZ_XML_KINDS:%=xml_%) legacy_pidmap legacy_pdistance \
                     provider config http
# ALTO JSON (proto/alto.h, jansson) joins when it is on this branch: its
# harness is tests/fuzz/fuzz_alto.c, seeds from tests/data/alto/.
ifneq ($(wildcard proto/alto.h),)
ifneq ($(wildcard tests/fuzz/fuzz_alto.c),)
FUZZ_TARGETS      += alto
endif
endif

FUZZ_RUNNER := tests/fuzz/run.sh
# -timeout: an input taking seconds is a finding (issue 15.1 took minutes);
# -max_len: room for documents over the attribute and size caps' edges
FUZZ_FLAGS  := -timeout=10 -max_len=65536 -rss_limit_mb=2048 -print_final_stats=1

.PHONY: fuzz fuzz-tests
ifeq ($(FUZZ),)
# From an ordinary build: the same targets in the fuzz build.
fuzz:
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-all
fuzz-%:
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-run-$*
TEST_TARGETS += fuzz-tests
fuzz-tests:
	@$(MAKE) --no-print-directory FUZZ=1 fuzz-replay
else

FUZZ_BINS := $(FUZZ_TARGETS:%=$(BUILD)/fuzz/fuzz_%)
# reached only through the fuzz-run-%/fuzz-replay-% patterns, which makes
# them intermediate: keep them (a second run would otherwise relink each)
.SECONDARY: $(FUZZ_BINS)
FUZZ_LINK  = -fsanitize=fuzzer $(SANFLAGS)

# the type each XML kind parses into
fuzz_type_pidmap             := struct p4p_pidmap_msg
fuzz_type_lookup_request     := struct p4p_lookup_request
fuzz_type_lookup             := struct p4p_lookup_msg
fuzz_type_costs              := struct p4p_costs_msg
fuzz_type_guidance           := struct p4p_guidance_msg
fuzz_type_stats              := struct p4p_stats_msg
fuzz_type_capability         := struct p4p_capability_msg
fuzz_type_capability_request := struct p4p_capability_request
fuzz_type_error              := struct p4p_error_msg

$(BUILD)/fuzz/fuzz_xml_%: tests/fuzz/fuzz_xml.c tests/fuzz/fuzz.h $(PROTO_LIB) $(OUR_HDRS)
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -I$(TOP) -DFUZZ_KIND=$* -DFUZZ_TYPE="$(fuzz_type_$*)" -o $@ $< $(PROTO_LINK) $(FUZZ_LINK)

$(BUILD)/fuzz/fuzz_legacy_pidmap $(BUILD)/fuzz/fuzz_legacy_pdistance: $(BUILD)/fuzz/fuzz_legacy_%: tests/fuzz/fuzz_legacy.c tests/fuzz/fuzz.h $(P4P_LIB) $(PROTO_LIB) $(OUR_HDRS)
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -I$(TOP) -DFUZZ_LEGACY_$(shell echo $* | tr a-z A-Z) -o $@ $< $(P4P_LINK) $(FUZZ_LINK)

$(BUILD)/fuzz/fuzz_provider: tests/fuzz/fuzz_provider.c tests/fuzz/fuzz.h $(PROV_LIB) $(PROTO_LIB) $(OUR_HDRS)
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -I$(TOP) -o $@ $< $(PROV_LINK) $(FUZZ_LINK)

$(BUILD)/fuzz/fuzz_config: tests/fuzz/fuzz_config.c tests/fuzz/fuzz.h $(P4P_LIB) $(PROTO_LIB) $(OUR_HDRS)
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -I$(TOP) -o $@ $< $(P4P_LINK) $(FUZZ_LINK)

# the patched tree's objects, as bench/selbench.mk links them (its
# opentracker.c holds main: the harness stands in for it)
FUZZ_HTTP_OBJS = $(filter-out %/opentracker.o,$(wildcard $(BUILD)/src/p4p/*.o))
$(BUILD)/fuzz/fuzz_http: tests/fuzz/fuzz_http.c $(BUILD)/opentracker-p4p
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	@$(CC) $(OT_CFLAGS) $(OT_FEATURES) -DWANT_P4P -I$(BUILD)/src/p4p -I$(TOP) -I$(TOP)/p4p -o $@ $< \
	  $(FUZZ_HTTP_OBJS) $(OT_P4P_LINK) $(OT_LIBS) $(FUZZ_LINK)

$(BUILD)/fuzz/fuzz_alto: tests/fuzz/fuzz_alto.c tests/fuzz/fuzz.h $(PROTO_LIB) $(OUR_HDRS)
	@mkdir -p $(@D)
	@echo "  FUZZ    $@"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -I$(TOP) -o $@ $< $(PROTO_LINK) $(JANSSON_LIBS) $(FUZZ_LINK)

# (not .PHONY: make skips pattern rules for phony targets)
.PHONY: fuzz-all fuzz-replay
fuzz-all: $(FUZZ_TARGETS:%=fuzz-run-%)
	@$(FUZZ_RUNNER) summary $(BUILD) $(FUZZ_TARGETS)

fuzz-run-%: $(BUILD)/fuzz/fuzz_%
	@$(FUZZ_RUNNER) run $(BUILD) $* $(FUZZ_SECONDS) $(FUZZ_FLAGS)

fuzz-replay: $(FUZZ_TARGETS:%=fuzz-replay-%)

fuzz-replay-%: $(BUILD)/fuzz/fuzz_%
	@$(FUZZ_RUNNER) replay $(BUILD) $* $(FUZZ_TEST_SECONDS) $(FUZZ_FLAGS)
endif
