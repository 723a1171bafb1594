# Tests.  tests/unit/test_*.c are cmocka programs linked with libp4p.a, one
# binary each; tests/integration/test_*.py run under Debian's pytest against
# the real binaries.  Parts with tests of their own add to TEST_TARGETS.
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
UNIT_HDRS  := $(wildcard tests/unit/*.h)

ALL_TARGETS  += $(UNIT_BINS)
TEST_TARGETS += unit-tests integration-tests

$(BUILD)/tests/%: tests/unit/%.c $(UNIT_HDRS) $(BUILD)/libp4p.a
	@mkdir -p $(@D)
	@echo "  CC      $@"
	@$(CC) $(CFLAGS) $(BASEFLAGS) $(XML_CFLAGS) -Ip4p -Itests/unit -o $@ $< $(BUILD)/libp4p.a -lcmocka $(P4P_LIBS)

.PHONY: unit-tests integration-tests
unit-tests: $(UNIT_BINS)
	@set -e; for t in $(UNIT_BINS); do echo "== $$t"; TEST_DATA=$(TOP)/tests/data $$t; done

# BUILD_DIR tells the tests which binaries to start
integration-tests: all
	@cd tests/integration && BUILD_DIR=$(TOP)/$(BUILD) $(PYTHON) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS) .
