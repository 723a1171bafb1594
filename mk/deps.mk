# Debian 12 packages the build and the tests need.  `make deps` installs the
# missing ones when run as root and prints the apt-get line otherwise; every
# other target checks first and says what is missing instead of failing late.
DEB_PACKAGES := build-essential pkg-config xz-utils ca-certificates \
  zlib1g-dev libxml2-dev libxml2-utils libcurl4-openssl-dev \
  libmicrohttpd-dev libglpk-dev libcmocka-dev gnuplot-nox \
  python3 python3-pytest python3-libtorrent curl \
  clang libclang-rt-14-dev valgrind
# (clang and its runtimes: the libFuzzer harnesses, tests/fuzz/; valgrind:
# the daemons' leak check at shutdown, tests/integration/test_shutdown.py)

.PHONY: deps check-deps
deps:
	@mk/deps.sh install $(DEB_PACKAGES)

check-deps:
	@mk/deps.sh check $(DEB_PACKAGES)
