# Tests.  tests/unit/test_*.c are cmocka programs, one binary each, linked
# with every library (they test internals); tests/integration/test_*.py run
# under Debian's pytest against the real binaries.  Parts with tests of their
# own add to TEST_TARGETS.
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HDRS  := $(wildcard tests/unit/*.h)
# the simulator's library too: sim/peerlist.h keeps test swarms the way
# upstream's vectors do
UNIT_LIBS  := $(BUILD)/libp4psim.a $(P4P_LIB) $(PROV_LIB) $(PROTO_LIB)
UNIT_LINK   = $(BUILD)/libp4psim.a $(P4P_LINK) $(PROV_LINK) -lcmocka

# The exact LP in GLPK: the optimizer's reference answer, for tests and the
# optimizer benchmark only (no daemon links GLPK).
GLPK_LIBS  := -lglpk
ORACLE_OBJ := $(BUILD)/obj/tests/oracle/lp_exact.o

ALL_TARGETS  += $(UNIT_BINS)
TEST_TARGETS += unit-tests integration-tests

$(ORACLE_OBJ): tests/oracle/lp_exact.c $(OUR_HDRS)
	@mkdir -p $(@D)
	@echo "  CC      $<"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -I$(TOP) -c -o $@ $<

$(BUILD)/tests/%: tests/unit/%.c $(UNIT_HDRS) $(UNIT_LIBS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS) $(BASEFLAGS) $(XML_CFLAGS) -I$(TOP) -Isim -Itests/unit -o $@ $< $(UNIT_LINK)

# the portal client's test talks to its fake portals with libcurl itself
# (the module loads the same library at run time: p4p/curl_lazy.h)
$(BUILD)/tests/test_portal_client: tests/unit/test_portal_client.c $(UNIT_HDRS) $(UNIT_LIBS)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS) $(BASEFLAGS) $(XML_CFLAGS) -I$(TOP) -Isim -Itests/unit -o $@ $< $(UNIT_LINK) -lcurl

$(BUILD)/tests/test_optimize: tests/unit/test_optimize.c $(UNIT_HDRS) $(UNIT_LIBS) $(ORACLE_OBJ)
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS) $(BASEFLAGS) -I$(TOP) -Isim -Itests/unit -o $@ $< $(ORACLE_OBJ) $(UNIT_LINK) $(GLPK_LIBS)

.PHONY: unit-tests integration-tests
unit-tests: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; TEST_DATA=$(TOP)/tests/data $$t; done

# BUILD_DIR tells the tests which binaries to start
integration-tests: all
	@cd tests/integration && BUILD_DIR=$(TOP)/$(BUILD) $(PYTHON) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) .


# The library layering (tests/check_layers.sh): prefixes, the tracker
# without GLPK or optimizer code, includes by layer.
TEST_TARGETS += layering-test
.PHONY: layering-test
layering-test: $(P4P_LIB) $(PROTO_LIB) $(PROV_LIB) $(BUILD)/opentracker-p4p
	@echo "== layering"
	@tests/check_layers.sh $(BUILD)

# The unit tests again under ASan and UBSan (build/san), so that a plain
# `make test` (what CI runs) checks every parser and unit with the
# sanitizers too; `make SAN=1 test` runs them there already.
ifeq ($(SAN)$(FUZZ),)
TEST_TARGETS += san-unit-tests
.PHONY: san-unit-tests
san-unit-tests:
	@$(MAKE) --no-print-directory SAN=1 unit-tests
endif

# Our C is kept in upstream's style (.clang-format, clang-format 14):
# `make format` applies it, make test checks it.
FORMAT_DIRS  := p4p proto provider itracker sim bench tests
FORMAT_FILES  = $(shell git ls-files -- $(FORMAT_DIRS:%='%/*.c') $(FORMAT_DIRS:%='%/*.h') 2>/dev/null)
TEST_TARGETS += format-test
.PHONY: format format-test
format:
	@clang-format -i $(FORMAT_FILES)
format-test:
	@echo "== format (.clang-format)"
	@if ! command -v clang-format >/dev/null; then echo "format: clang-format not installed (make deps), not checked"; \
	elif [ -z "$(FORMAT_FILES)" ]; then echo "format: not a git checkout, not checked"; \
	else clang-format --dry-run -Werror $(FORMAT_FILES) && echo "format: $(words $(FORMAT_FILES)) files as .clang-format says"; fi
