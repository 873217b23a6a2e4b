# dist.mk - installing and packaging sandlua.
#
#   make install     PREFIX, DESTDIR, BINDIR, DATADIR, MANDIR, SYSCONFDIR,
#                    SYSTEMDUNITDIR may be set (on both `make` and
#                    `make install`: SYSCONFDIR is compiled in)
#   make uninstall   the same variables
#   make deb         build/sandlua_<version>_<arch>.deb and the source
#                    package (.dsc, .orig.tar.gz, .debian.tar.xz) from
#                    one dpkg-buildpackage run
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
#   $(DOCDIR)/                                 README, CHANGELOG, LICENSE,
#                                              docs/*.md, policies/README.md
#   $(BASHCOMPDIR)/sandlua, $(ZSHCOMPDIR)/_sandlua   shell completion
#
# The man pages and the unit are installed with the paths of this install
# (SYSCONFDIR, BINDIR, DATADIR, SYSTEMDUNITDIR) in place of the packages'.

# Where things go.  SYSCONFDIR follows the GNU convention: /etc when
# installing into /usr (distribution packages), $(PREFIX)/etc otherwise.
PREFIX         ?= /usr/local
BINDIR         ?= $(PREFIX)/bin
DATADIR        ?= $(PREFIX)/share
MANDIR         ?= $(DATADIR)/man
SYSCONFDIR     ?= $(if $(filter /usr,$(PREFIX)),/etc,$(PREFIX)/etc)
SYSTEMDUNITDIR ?= $(PREFIX)/lib/systemd/system
DOCDIR         ?= $(DATADIR)/doc/sandlua
BASHCOMPDIR    ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR     ?= $(DATADIR)/zsh/site-functions
DESTDIR        ?=
INSTALL        ?= install

# The version: interp/interp.h is the single source; the Debian changelog
# and the RPM spec must agree with it (tests/integration/test_dist.py).
VERSION := $(shell sed -n 's/^\#define INTERP_VERSION "\(.*\)"/\1/p' \
                     interp/interp.h)

# The default policy path (INTERP_DEFAULT_POLICY, interp/interp.h) is
# compiled in from SYSCONFDIR.  The stamp file changes only when SYSCONFDIR
# does, and every object depends on it, so `make install SYSCONFDIR=...`
# never installs a binary that reads another directory than the one the
# policy went to.
XCFLAGS += -DINTERP_DEFAULT_POLICY='"$(SYSCONFDIR)/sandlua/policy.yaml"' \
           -DINTERP_SITE_POLICY_DIR='"$(SYSCONFDIR)/sandlua/policy.d"'
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
DOCS         = README.md CHANGELOG.md LICENSE
DOCS_MD      = $(wildcard docs/*.md)
BASHCOMP     = packaging/completion/sandlua.bash
ZSHCOMP      = packaging/completion/_sandlua
# The packages' paths in the man pages and the unit, made this install's.
PATHSED      = sed -e 's|/usr/bin/sandlua|$(BINDIR)/sandlua|g' \
                   -e 's|/etc/sandlua/|$(SYSCONFDIR)/sandlua/|g' \
                   -e 's|/usr/share/sandlua/|$(DATADIR)/sandlua/|g' \
                   -e 's|/lib/systemd/system/|$(SYSTEMDUNITDIR)/|g'
POLICYFILE   = $(DESTDIR)$(SYSCONFDIR)/sandlua/policy.yaml
SHARE        = $(DESTDIR)$(DATADIR)/sandlua

install: all
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSCONFDIR)/sandlua \
	  $(SHARE)/examples $(SHARE)/types \
	  $(DESTDIR)$(MANDIR)/man1 $(DESTDIR)$(MANDIR)/man5 \
	  $(DESTDIR)$(SYSTEMDUNITDIR) $(DESTDIR)$(DOCDIR)/docs \
	  $(DESTDIR)$(DOCDIR)/policies $(DESTDIR)$(BASHCOMPDIR) \
	  $(DESTDIR)$(ZSHCOMPDIR)
	$(INSTALL) -m 0755 $(B)/sandlua $(DESTDIR)$(BINDIR)/sandlua
	@if [ -e $(POLICYFILE) ]; then \
	  echo "keeping existing $(POLICYFILE)"; \
	else \
	  echo "$(INSTALL) -m 0644 policies/default.yaml $(POLICYFILE)"; \
	  $(INSTALL) -m 0644 policies/default.yaml $(POLICYFILE); \
	fi
	$(INSTALL) -m 0644 $(EXAMPLES) $(SHARE)/examples/
	$(if $(POLICY_EXAMPLES),$(INSTALL) -d $(SHARE)/examples/policies)
	$(if $(POLICY_EXAMPLES),$(INSTALL) -m 0644 $(POLICY_EXAMPLES) \
	  $(SHARE)/examples/policies/)
	$(INSTALL) -m 0644 $(STUBS) $(SHARE)/types/
	$(PATHSED) $(MAN1) >$(DESTDIR)$(MANDIR)/man1/sandlua.1
	$(PATHSED) $(MAN5) >$(DESTDIR)$(MANDIR)/man5/sandlua-policy.5
	$(PATHSED) $(UNIT) >$(DESTDIR)$(SYSTEMDUNITDIR)/sandlua@.service
	chmod 0644 $(DESTDIR)$(MANDIR)/man1/sandlua.1 \
	  $(DESTDIR)$(MANDIR)/man5/sandlua-policy.5 \
	  $(DESTDIR)$(SYSTEMDUNITDIR)/sandlua@.service
	$(INSTALL) -m 0644 $(DOCS) $(DESTDIR)$(DOCDIR)/
	$(INSTALL) -m 0644 $(DOCS_MD) $(DESTDIR)$(DOCDIR)/docs/
	$(INSTALL) -m 0644 policies/README.md $(DESTDIR)$(DOCDIR)/policies/
	$(INSTALL) -m 0644 $(BASHCOMP) $(DESTDIR)$(BASHCOMPDIR)/sandlua
	$(INSTALL) -m 0644 $(ZSHCOMP) $(DESTDIR)$(ZSHCOMPDIR)/_sandlua

# The policy is removed only when it is still the shipped one: local edits
# are never lost.
uninstall:
	rm -f $(DESTDIR)$(BINDIR)/sandlua \
	  $(DESTDIR)$(MANDIR)/man1/sandlua.1 \
	  $(DESTDIR)$(MANDIR)/man5/sandlua-policy.5 \
	  $(DESTDIR)$(SYSTEMDUNITDIR)/sandlua@.service \
	  $(DESTDIR)$(BASHCOMPDIR)/sandlua $(DESTDIR)$(ZSHCOMPDIR)/_sandlua
	rm -rf $(SHARE) $(DESTDIR)$(DOCDIR)
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

# {======================================================
# Packages.  Both build from a clean copy of the source tree (the files git
# knows, tracked or not ignored; the whole tree outside git) in a temporary
# folder, and put the package in PKGOUT.
# =======================================================
PKGOUT  ?= build
DEB_ARCH = $(shell dpkg-architecture -qDEB_HOST_ARCH 2>/dev/null)
DEB_VERSION = $(shell dpkg-parsechangelog -l packaging/debian/changelog \
                        -S Version 2>/dev/null)
RPM_RELEASE = $(shell sed -n 's/^Release: *\([0-9]*\).*/\1/p' \
                        packaging/rpm/sandlua.spec)
RPM_ARCH = $(shell rpm --eval '%{_arch}' 2>/dev/null)

# $(call srccopy,DIR): copy the source tree into DIR.
define srccopy
mkdir -p $(1) && \
if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then \
  git ls-files -z -co --exclude-standard | \
    xargs -0 -r sh -c 'for f; do [ -e "$$f" ] && echo "$$f"; done' sh | \
    tar -cf - -T - | tar -xf - -C $(1); \
else \
  tar -cf - --exclude=./build --exclude=./build-asan --exclude=./build-fuzz \
    --exclude=./.git --exclude='*.deb' --exclude='*.rpm' . | \
    tar -xf - -C $(1); \
fi
endef

# dpkg-buildpackage: source and binary packages, unsigned; the upstream
# tarball (.orig.tar.gz, for the 3.0 (quilt) format) is the clean tree.  DEB_BUILD_OPTIONS
# from the environment apply (nocheck, parallel=N, ...).
deb:
	@test "$(VERSION)" = "$(word 1,$(subst -, ,$(DEB_VERSION)))" || \
	  { echo "packaging/debian/changelog is $(DEB_VERSION)," \
	    "interp/interp.h says $(VERSION)" >&2; exit 1; }
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	src=$$tmp/sandlua-$(VERSION); \
	$(call srccopy,$$src); \
	rm -rf $$src/build $$src/build-asan $$src/build-fuzz $$src/debian; \
	tar -czf $$tmp/sandlua_$(VERSION).orig.tar.gz -C $$tmp \
	  sandlua-$(VERSION); \
	cp -r packaging/debian $$src/debian; \
	(cd $$src && dpkg-buildpackage --no-sign) >$$tmp/build.log 2>&1 || \
	  { tail -40 $$tmp/build.log; exit 1; }; \
	mkdir -p $(PKGOUT); \
	cp $$tmp/sandlua_$(DEB_VERSION)_$(DEB_ARCH).deb \
	  $$tmp/sandlua_$(DEB_VERSION).dsc \
	  $$tmp/sandlua_$(VERSION).orig.tar.gz \
	  $$tmp/sandlua_$(DEB_VERSION).debian.tar.xz $(PKGOUT)/; \
	echo "$(PKGOUT)/sandlua_$(DEB_VERSION)_$(DEB_ARCH).deb"; \
	echo "$(PKGOUT)/sandlua_$(DEB_VERSION).dsc"

# lintian on the built package: any error or warning fails.
lintian: deb
	lintian --fail-on error,warning --no-tag-display-limit \
	  $(PKGOUT)/sandlua_$(DEB_VERSION)_$(DEB_ARCH).deb

.PHONY: deb lintian
# }======================================================

# rpmbuild -bb from a tarball of the tree.  RPMBUILD_FLAGS defaults to
# --nodeps because the build dependencies are Debian packages here, which
# rpm's database does not know; on an RPM system use RPMBUILD_FLAGS=.
RPMBUILD_FLAGS ?= --nodeps
rpm:
	@test "$(VERSION)" = "$$(sed -n 's/^Version: *//p' packaging/rpm/sandlua.spec)" || \
	  { echo "packaging/rpm/sandlua.spec's Version is not $(VERSION)" >&2; \
	    exit 1; }
	@set -e; tmp=$$(mktemp -d); trap 'rm -rf "$$tmp"' EXIT; \
	src=$$tmp/sandlua-$(VERSION); \
	$(call srccopy,$$src); \
	rm -rf $$src/build $$src/build-asan $$src/build-fuzz; \
	mkdir -p $$tmp/top/SOURCES; \
	tar -czf $$tmp/top/SOURCES/sandlua-$(VERSION).tar.gz -C $$tmp \
	  sandlua-$(VERSION); \
	rpmbuild -bb $(RPMBUILD_FLAGS) --define "_topdir $$tmp/top" \
	  packaging/rpm/sandlua.spec >$$tmp/build.log 2>&1 || \
	  { tail -40 $$tmp/build.log; exit 1; }; \
	mkdir -p $(PKGOUT); \
	cp $$tmp/top/RPMS/$(RPM_ARCH)/sandlua-$(VERSION)-$(RPM_RELEASE).$(RPM_ARCH).rpm \
	  $(PKGOUT)/; \
	echo "$(PKGOUT)/sandlua-$(VERSION)-$(RPM_RELEASE).$(RPM_ARCH).rpm"

# The packaging tests alone (make check runs them too).
check-packaging: deps
	@$(MAKE) --no-print-directory all
	@SANDLUA=$(CURDIR)/$(B)/sandlua $(PYTHON) -m pytest -q \
	  -p no:cacheprovider tests/integration/test_dist.py \
	  tests/integration/test_packaging.py

.PHONY: rpm check-packaging
