# opentracker-p4p: top-level build.  Each part adds its own rules in a
# module.mk; this file holds what they share.
#
#   make            build everything into build/
#   make run        build, then start the tracker with the bundled example
#   make test       build and run every test
#   make deps       install the Debian packages the build and tests need
#   make SAN=1 test the same with -fsanitize=address,undefined (into build/san)
#   make install    daemons, man pages, configs, units (PREFIX, DESTDIR)
#   make deb        the Debian package, into build/deb (docs/INSTALL.md)
#   make fuzz       every libFuzzer harness for FUZZ_SECONDS (tests/fuzz/)

SHELL    := /bin/bash
TOP      := $(CURDIR)
SAN      ?=
FUZZ     ?=
ifneq ($(FUZZ),)
# libFuzzer harnesses (tests/fuzz/module.mk): clang, everything instrumented
# for coverage and checked by ASan and UBSan
BUILD    := build/fuzz
CC       := clang
SANFLAGS := -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
else ifeq ($(SAN),)
BUILD    := build
SANFLAGS :=
else
BUILD    := build/san
SANFLAGS := -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
endif

CC       ?= cc
CFLAGS   ?= -O2 -g
WARN     := -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes
# our code always sees the real module API (p4p.h), as the fork does
BASEFLAGS = -std=gnu11 -D_GNU_SOURCE -DWANT_P4P -pthread $(WARN) $(SANFLAGS)
XML_CFLAGS := $(shell pkg-config --cflags libxml-2.0 2>/dev/null || echo -I/usr/include/libxml2)
XML_LIBS   := $(shell pkg-config --libs libxml-2.0 2>/dev/null || echo -lxml2)
PYTHON   := /usr/bin/python3

ALL_TARGETS  :=
TEST_TARGETS :=

.PHONY: all deps run test check-deps clean
all: check-deps

include mk/deps.mk
include opentracker/upstream.mk
OUR_HDRS := $(wildcard p4p/*.h proto/*.h provider/*.h)
include proto/module.mk
include provider/module.mk
include p4p/module.mk
-include itracker/module.mk
-include sim/module.mk
-include bench/module.mk
-include bench/selbench.mk
include tests/module.mk
include mk/install.mk
include tests/fuzz/module.mk

all: $(ALL_TARGETS)

test: all
	@$(MAKE) --no-print-directory test-run

.PHONY: test-run
test-run: $(TEST_TARGETS)

run: all
	@deploy/run-example.sh $(BUILD)

clean:
	rm -rf build
