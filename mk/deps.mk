# Debian 12 packages the build and the tests need.  `make deps` installs the
# missing ones when run as root and prints the apt-get line otherwise; every
# other target checks first and says what is missing instead of failing late.
DEB_PACKAGES := build-essential pkg-config xz-utils ca-certificates \
  zlib1g-dev libxml2-dev libxml2-utils libcurl4-openssl-dev \
  libmicrohttpd-dev libglpk-dev libcmocka-dev gnuplot-nox libjansson-dev \
  python3 python3-pytest python3-libtorrent python3-prometheus-client curl \
  systemd systemd-container groff-base clang clang-format libclang-rt-14-dev valgrind
# (the install tests: systemd-analyze checks the units, systemd-nspawn boots
# this machine's systemd in a throw-away container to run them, groff checks
# the man pages; none of them makes systemd the host's PID 1. clang and its
# runtimes: the libFuzzer harnesses, tests/fuzz/; valgrind: the daemons' leak
# check at shutdown, tests/integration/test_shutdown.py)

# only `make deb` needs these (mk/install.mk)
DEB_BUILD_PACKAGES := dpkg-dev debhelper

# only `make bench` uses this (callgrind's instruction counts and massif's
# heap profile; without it those sections say so): `make deps-bench`
DEB_BENCH_PACKAGES := valgrind

.PHONY: deps check-deps deps-bench
deps-bench:
	@mk/deps.sh install $(DEB_BENCH_PACKAGES)

deps:
	@mk/deps.sh install $(DEB_PACKAGES)

check-deps:
	@mk/deps.sh check $(DEB_PACKAGES)
