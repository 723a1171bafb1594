# make install: the two daemons, their man pages, configs, systemd units and
# the sysusers.d entry of their user (docs/INSTALL.md).
#   make install [PREFIX=/usr/local] [DESTDIR=/staging/root] [SYSCONFDIR=/etc]
#                [INSTALL_USER=no]
# Daemons go to $(PREFIX)/sbin: the init system starts them, not users (as
# sshd or nginx), and their pages are in section 8.  Configs go to
# $(SYSCONFDIR)/opentracker-p4p whatever the prefix, because the units and
# the man pages name that one place.  An existing config is never
# overwritten: an upgrade keeps the operator's edits.
#
# make deb: the Debian package (debian/), built with dpkg-buildpackage in an
# exported copy of this tree under build/deb, offline from build/cache.
PREFIX      ?= /usr/local
SBINDIR     ?= $(PREFIX)/sbin
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
SYSCONFDIR  ?= /etc
UNITDIR     ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR ?= $(PREFIX)/lib/sysusers.d
CONFDIR     := $(SYSCONFDIR)/opentracker-p4p
# create the user and give it the configs (as root, not for a staged install)
INSTALL_USER ?= $(if $(DESTDIR),no,yes)

# A distribution build hands in its hardening flags (debian/rules);
# upstream's files get them as well as ours.  Empty otherwise.
PKG_CFLAGS  ?=
PKG_LDFLAGS ?=
OT_CFLAGS   += $(PKG_CFLAGS)
OT_LIBS     += $(PKG_LDFLAGS)

INSTALL_BINS  := $(BUILD)/opentracker-p4p $(BUILD)/p4p-itracker
INSTALL_MAN5  := $(wildcard deploy/man/*.5)
INSTALL_MAN8  := $(wildcard deploy/man/*.8)
INSTALL_UNITS := $(wildcard deploy/systemd/*.service.in)
INSTALL_CONFS := $(wildcard deploy/etc/*.conf)
INSTALL_PROVS := $(wildcard deploy/providers/*.conf)

# paths in units and man pages follow the prefix
INSTALL_SUBST := sed -e 's|@SBINDIR@|$(SBINDIR)|g' -e 's|@SYSCONFDIR@|$(SYSCONFDIR)|g' -e 's|@DATADIR@|$(DATADIR)|g' -e 's|@UNITDIR@|$(UNITDIR)|g'

.PHONY: install uninstall deb
install: $(INSTALL_BINS)
	@echo "  INSTALL $(DESTDIR) prefix $(PREFIX), configs in $(CONFDIR)"
	@install -d $(DESTDIR)$(SBINDIR) $(DESTDIR)$(MANDIR)/man5 $(DESTDIR)$(MANDIR)/man8 \
	  $(DESTDIR)$(CONFDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	  $(DESTDIR)$(DATADIR)/opentracker-p4p/providers
	@install -m 0755 $(INSTALL_BINS) $(DESTDIR)$(SBINDIR)/
	@set -e; for f in $(INSTALL_MAN5) $(INSTALL_MAN8); do \
	  s=$${f##*.}; $(INSTALL_SUBST) $$f > $(DESTDIR)$(MANDIR)/man$$s/$${f##*/}; \
	  chmod 0644 $(DESTDIR)$(MANDIR)/man$$s/$${f##*/}; done
	@set -e; for f in $(INSTALL_UNITS); do \
	  u=$${f##*/}; u=$${u%.in}; $(INSTALL_SUBST) $$f > $(DESTDIR)$(UNITDIR)/$$u; \
	  chmod 0644 $(DESTDIR)$(UNITDIR)/$$u; done
	@install -m 0644 deploy/systemd/opentracker-p4p.sysusers $(DESTDIR)$(SYSUSERSDIR)/opentracker-p4p.conf
	@install -m 0644 $(INSTALL_PROVS) $(DESTDIR)$(DATADIR)/opentracker-p4p/providers/
	@set -e; for f in $(INSTALL_CONFS); do \
	  t=$(DESTDIR)$(CONFDIR)/$${f##*/}; \
	  if [ -e $$t ] && cmp -s $$f $$t; then :; \
	  elif [ -e $$t ]; then echo "  KEEP    $$t (yours; the new one is $$t.dist)"; \
	    install -m 0640 $$f $$t.dist; \
	  else install -m 0640 $$f $$t; fi; done
	@# Installing for real as root (no DESTDIR): the user the units name, and
	@# configs it can read.  A staged install leaves this to its package.
	@if [ "$(INSTALL_USER)" = yes ] && [ "$$(id -u)" = 0 ]; then \
	  if command -v systemd-sysusers >/dev/null; then systemd-sysusers $(SYSUSERSDIR)/opentracker-p4p.conf; fi; \
	  if getent group opentracker-p4p >/dev/null; then \
	    chgrp opentracker-p4p $(addprefix $(CONFDIR)/,$(notdir $(INSTALL_CONFS))); \
	  else echo "  NOTE    no user opentracker-p4p: create it (systemd-sysusers), then chgrp opentracker-p4p $(CONFDIR)/*.conf"; fi; fi

# Configs stay (they are the operator's); everything else goes.
uninstall:
	rm -f $(addprefix $(DESTDIR)$(SBINDIR)/,opentracker-p4p p4p-itracker)
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man5/,$(notdir $(INSTALL_MAN5)))
	rm -f $(addprefix $(DESTDIR)$(MANDIR)/man8/,$(notdir $(INSTALL_MAN8)))
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(notdir $(INSTALL_UNITS:.in=)))
	rm -f $(DESTDIR)$(SYSUSERSDIR)/opentracker-p4p.conf
	rm -rf $(DESTDIR)$(DATADIR)/opentracker-p4p

# The package is built from an export of this tree (the files git knows,
# committed or not), so that dpkg-buildpackage's clean step and its output in
# the parent directory stay inside build/deb.  The tarballs come from
# build/cache through fetch.sh's local-copy variables: no network.
DEB_DIR := build/deb
DEB_SRC := $(DEB_DIR)/opentracker-p4p
deb: $(OT_TARBALL) $(OWFAT_TARBALL)
	@mk/deps.sh check $(DEB_BUILD_PACKAGES)
	@rm -rf $(DEB_DIR) && mkdir -p $(DEB_SRC)
	@git ls-files -z --cached --others --exclude-standard | \
	  { cd $(TOP) && xargs -0 sh -c 'for f; do [ -e "$$f" ] && printf "%s\0" "$$f"; done' sh; } | \
	  tar -c --null -T - -f - | tar -x -C $(DEB_SRC)
	@echo "  DEB     $(DEB_SRC) (log: $(DEB_DIR)/build.log)"
	@cd $(DEB_SRC) && OPENTRACKER_TARBALL=$(TOP)/$(OT_TARBALL) LIBOWFAT_TARBALL=$(TOP)/$(OWFAT_TARBALL) \
	  dpkg-buildpackage -b -us -uc > ../build.log 2>&1 || { tail -30 ../build.log >&2; exit 1; }
	@ls $(DEB_DIR)/*.deb
