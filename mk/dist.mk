# dist.mk - installing and packaging sandlua.
#
#   make install     PREFIX, DESTDIR, BINDIR, DATADIR, MANDIR, SYSCONFDIR,
#                    SYSTEMDUNITDIR may be set (on both `make` and
#                    `make install`: SYSCONFDIR is compiled in)
#   make uninstall   the same variables
#   make deb         build/sandlua_<version>_<arch>.deb (dpkg-buildpackage -b)
#   make rpm         build/sandlua-<version>-<release>.<arch>.rpm (rpmbuild -bb)
#   make check-packaging   the packaging tests alone (they also run in check)
#
# What goes where (PREFIX=/usr/local unless told otherwise):
#   $(BINDIR)/sandlua                          the interpreter
#   $(SYSCONFDIR)/sandlua/policy.yaml          default policy (deny-all); a
#                                              config file: installed only
#                                              when absent, never overwritten
#   $(DATADIR)/sandlua/examples/               example scripts and policies
#   $(DATADIR)/sandlua/types/                  LuaLS ---@meta stubs
#   $(MANDIR)/man1/sandlua.1, man5/sandlua-policy.5
#   $(SYSTEMDUNITDIR)/sandlua@.service         hardened template unit

# Where things go.  SYSCONFDIR follows the GNU convention: /etc when
# installing into /usr (distribution packages), $(PREFIX)/etc otherwise.
PREFIX         ?= /usr/local
BINDIR         ?= $(PREFIX)/bin
DATADIR        ?= $(PREFIX)/share
MANDIR         ?= $(DATADIR)/man
SYSCONFDIR     ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DESTDIR        ?=
INSTALL        ?= install

# The version: interp/interp.h is the single source; the Debian changelog
# and the RPM spec must agree with it (tests/integration/test_dist.py).
VERSION := $(shell sed -n 's/^\#define INTERP_VERSION "\(.*\)"/\1/p' \
                     interp/interp.h)

# The default policy path is compiled in from SYSCONFDIR.  The stamp file
# changes only when SYSCONFDIR does, and every object depends on it, so
# `make install SYSCONFDIR=...` never installs a binary that reads another
# directory than the one the policy went to.
XCFLAGS += -DSL_SYSCONFDIR='"$(SYSCONFDIR)"'
$(OBJS): $(B)/sysconfdir.stamp
$(B)/sysconfdir.stamp: FORCE
	@mkdir -p $(@D)
	@echo '$(SYSCONFDIR)' | cmp -s - $@ || echo '$(SYSCONFDIR)' >$@

EXAMPLES     = $(wildcard examples/*.lua)
POLICY_EXAMPLES = $(wildcard policies/examples/*.yaml)
STUBS        = $(wildcard stdlib/types/*.d.lua)
MAN1         = packaging/man/sandlua.1
MAN5         = packaging/man/sandlua-policy.5
UNIT         = packaging/systemd/sandlua@.service
POLICYFILE   = $(DESTDIR)$(SYSCONFDIR)/sandlua/policy.yaml
SHARE        = $(DESTDIR)$(DATADIR)/sandlua

install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/sandlua \
	  $(SHARE)/examples/policies $(SHARE)/types \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	  $(DESTDIR)$(SYSTEMDUNITDIR)
	$(INSTALL) -m 0755 $(B)/sandlua $(DESTDIR)$(BINDIR)/sandlua
	@if [ -e $(POLICYFILE) ]; then \
	  echo "keeping existing $(POLICYFILE)"; \
	else \
	  echo "$(INSTALL) -m 0644 policies/default.yaml $(POLICYFILE)"; \
	  $(INSTALL) -m 0644 policies/default.yaml $(POLICYFILE); \
	fi
	$(INSTALL) -m 0644 $(EXAMPLES) $(SHARE)/examples/
	$(if $(POLICY_EXAMPLES),$(INSTALL) -m 0644 $(POLICY_EXAMPLES) \
	  $(SHARE)/examples/policies/)
	$(INSTALL) -m 0644 $(STUBS) $(SHARE)/types/
	$(INSTALL) -m 0644 $(MAN1) $(DESTDIR)$(MANDIR)/man1/
	$(INSTALL) -m 0644 $(MAN5) $(DESTDIR)$(MANDIR)/man5/
	sed -e 's|/usr/bin/sandlua|$(BINDIR)/sandlua|g' \
	    -e 's|/etc/sandlua|$(SYSCONFDIR)/sandlua|g' $(UNIT) \
	  >$(DESTDIR)$(SYSTEMDUNITDIR)/sandlua@.service
	chmod 0644 $(DESTDIR)$(SYSTEMDUNITDIR)/sandlua@.service

# The policy is removed only when it is still the shipped one: local edits
# are never lost.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sandlua \
	  $(DESTDIR)$(MANDIR)/man1/sandlua.1 \
	  $(DESTDIR)$(MANDIR)/man5/sandlua-policy.5 \
	  $(DESTDIR)$(SYSTEMDUNITDIR)/sandlua@.service
	rm -rf $(SHARE)
	@if [ -f $(POLICYFILE) ]; then \
	  if cmp -s policies/default.yaml $(POLICYFILE); then \
	    echo "rm -f $(POLICYFILE)"; rm -f $(POLICYFILE); \
	  else \
	    echo "keeping modified $(POLICYFILE)"; \
	  fi; \
	fi
	-@rmdir $(DESTDIR)$(SYSCONFDIR)/sandlua 2>/dev/null || true

.PHONY: install uninstall FORCE
FORCE:
