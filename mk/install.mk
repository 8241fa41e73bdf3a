# Installation and Debian packaging for iommud. Included by the top-level Makefile,
# which defines RELEASE_BIN (.build/release/iommud) and the phony `release` target.
# Standalone: make -f mk/install.mk RELEASE_BIN=/path/to/iommud install|uninstall|deb
#
#   make install   [DESTDIR=] [PREFIX=/usr] [BINDIR=] [UNITDIR=] [CATALOGDIR=] [SYSCONFDIR=/etc] ...
#   make uninstall (same variables; keeps a modified config and the state directory)
#   make deb       -> $(DEB)  (dpkg-deb --root-owner-group, no debhelper; needs dpkg-dev)
#
# `install` never builds: run `make release` first (`install` is often run as root after
# an unprivileged build, and must not start a Swift build as root). `deb` builds the
# binary only when it is missing (through the top-level Makefile's rule).

IOMMUD_TOP := $(patsubst %/,%,$(dir $(abspath $(dir $(lastword $(MAKEFILE_LIST))))))

RELEASE_BIN ?= .build/release/iommud
# the daemon's own version (iommud_build_info, `iommud version`), so the package matches it
ifeq ($(origin VERSION),undefined)
VERSION := $(or $(shell sed -n 's/.*static let version = "\(.*\)".*/\1/p' \
	$(IOMMUD_TOP)/Sources/IOMMUDaemon/System/Version.swift 2>/dev/null),0.1.0)
endif
# Debian revision: a non-native package (the source is not Debian-specific)
DEB_REVISION ?= 1
DEB_VERSION  ?= $(VERSION)-$(DEB_REVISION)
DEB_MAINTAINER ?= iommud maintainers <iommud@users.noreply.github.com>
DEB_ARCH     ?= $(shell dpkg --print-architecture 2>/dev/null || echo amd64)
DEB_BUILDDIR ?= build/deb
DEB          ?= build/iommud_$(DEB_VERSION)_$(DEB_ARCH).deb
# the default config and the journal catalog are written by other parts of the
# project; stand-ins can be passed for tests (Tests/systemd/standin/)
DEFAULT_CONFIG ?= $(IOMMUD_TOP)/config/iommud.toml
CATALOG        ?= $(IOMMUD_TOP)/systemd/iommud.catalog
UNITS          := $(IOMMUD_TOP)/systemd/iommud.service $(IOMMUD_TOP)/systemd/iommud.socket
DEBIAN_DIR     := $(IOMMUD_TOP)/packaging/debian

PREFIX      ?= /usr
BINDIR      ?= $(PREFIX)/bin
DATADIR     ?= $(PREFIX)/share
MANDIR      ?= $(DATADIR)/man
DOCDIR      ?= $(DATADIR)/doc/iommud
# systemd's own search path; /usr/lib (not /lib) is where the contract puts them
UNITDIR     ?= $(PREFIX)/lib/systemd/system
CATALOGDIR  ?= $(PREFIX)/lib/systemd/catalog
SYSCONFDIR  ?= /etc
BASHCOMPDIR ?= $(DATADIR)/bash-completion/completions
ZSHCOMPDIR  ?= $(DATADIR)/zsh/vendor-completions
FISHCOMPDIR ?= $(DATADIR)/fish/vendor_completions.d

INSTALL ?= install
# reproducible dates (man page, changelog, file mtimes in the .deb)
SOURCE_DATE_EPOCH ?= $(shell git -C $(IOMMUD_TOP) log -1 --format=%ct 2>/dev/null || date +%s)
export SOURCE_DATE_EPOCH
GEN ?= build/gen

.PHONY: install uninstall deb install-check-binary

install-check-binary:
	@test -x "$(RELEASE_BIN)" || { echo "$(RELEASE_BIN) is missing: run 'make release' first (or pass RELEASE_BIN=...)" >&2; exit 1; }

# Man page and completions come from the binary itself, so they always match the CLI.
$(GEN)/iommud.1 $(GEN)/iommud.bash $(GEN)/_iommud $(GEN)/iommud.fish &: $(RELEASE_BIN) $(DEBIAN_DIR)/manpage.sh | install-check-binary
	@mkdir -p $(GEN)
	$(DEBIAN_DIR)/manpage.sh "$(RELEASE_BIN)" "$(VERSION)" "$$(date -u -d @$(SOURCE_DATE_EPOCH) +%Y-%m-%d)" > $(GEN)/iommud.1.tmp
	mv $(GEN)/iommud.1.tmp $(GEN)/iommud.1
	# bash-completion sources the file: no #! line (lintian bash-completion-with-hashbang)
	"$(RELEASE_BIN)" --generate-completion-script bash | sed "1{/^#!/d}" > $(GEN)/iommud.bash
	"$(RELEASE_BIN)" --generate-completion-script zsh > $(GEN)/_iommud
	"$(RELEASE_BIN)" --generate-completion-script fish > $(GEN)/iommud.fish

# ExecStart= names /usr/bin/iommud; follow BINDIR when it differs, and pass --config
# when SYSCONFDIR is not /etc (the daemon's built-in default is /etc/iommud/iommud.toml).
UNIT_SED := -e 's|/usr/bin/iommud|$(BINDIR)/iommud|g'
ifneq ($(SYSCONFDIR),/etc)
UNIT_SED += -e 's|^ExecStart=\(.*\) run$$|ExecStart=\1 run --config $(SYSCONFDIR)/iommud/iommud.toml|'
endif

install: install-check-binary $(GEN)/iommud.1 $(GEN)/iommud.bash $(GEN)/_iommud $(GEN)/iommud.fish
	$(INSTALL) -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(MANDIR)/man1 \
		$(DESTDIR)$(BASHCOMPDIR) $(DESTDIR)$(ZSHCOMPDIR) $(DESTDIR)$(FISHCOMPDIR) \
		$(DESTDIR)$(SYSCONFDIR)/iommud
	$(INSTALL) -m 0755 "$(RELEASE_BIN)" $(DESTDIR)$(BINDIR)/iommud
	for u in $(UNITS); do \
		sed $(UNIT_SED) "$$u" > $(DESTDIR)$(UNITDIR)/$$(basename $$u).tmp && \
		chmod 0644 $(DESTDIR)$(UNITDIR)/$$(basename $$u).tmp && \
		mv $(DESTDIR)$(UNITDIR)/$$(basename $$u).tmp $(DESTDIR)$(UNITDIR)/$$(basename $$u) || exit 1; \
	done
	@if [ -f "$(CATALOG)" ]; then \
		echo "$(INSTALL) -D -m 0644 $(CATALOG) $(DESTDIR)$(CATALOGDIR)/iommud.catalog"; \
		$(INSTALL) -D -m 0644 "$(CATALOG)" $(DESTDIR)$(CATALOGDIR)/iommud.catalog; \
	else echo "note: $(CATALOG) does not exist yet, no journal catalog installed"; fi
	$(INSTALL) -m 0644 $(GEN)/iommud.1 $(DESTDIR)$(MANDIR)/man1/iommud.1
	$(INSTALL) -D -m 0644 $(IOMMUD_TOP)/systemd/iommud-actions-network.conf $(DESTDIR)$(DOCDIR)/examples/actions-network.conf
	$(INSTALL) -m 0644 $(GEN)/iommud.bash $(DESTDIR)$(BASHCOMPDIR)/iommud
	$(INSTALL) -m 0644 $(GEN)/_iommud $(DESTDIR)$(ZSHCOMPDIR)/_iommud
	$(INSTALL) -m 0644 $(GEN)/iommud.fish $(DESTDIR)$(FISHCOMPDIR)/iommud.fish
	@# never overwrite an admin's configuration
	@if [ ! -f "$(DEFAULT_CONFIG)" ]; then \
		echo "note: $(DEFAULT_CONFIG) does not exist yet, no configuration installed"; \
	elif [ -e $(DESTDIR)$(SYSCONFDIR)/iommud/iommud.toml ]; then \
		echo "keeping $(DESTDIR)$(SYSCONFDIR)/iommud/iommud.toml; the shipped default is $(DESTDIR)$(SYSCONFDIR)/iommud/iommud.toml.default"; \
		$(INSTALL) -m 0644 "$(DEFAULT_CONFIG)" $(DESTDIR)$(SYSCONFDIR)/iommud/iommud.toml.default; \
	else \
		echo "$(INSTALL) -m 0644 $(DEFAULT_CONFIG) $(DESTDIR)$(SYSCONFDIR)/iommud/iommud.toml"; \
		$(INSTALL) -m 0644 "$(DEFAULT_CONFIG)" $(DESTDIR)$(SYSCONFDIR)/iommud/iommud.toml; \
	fi
	@# on the live system (no DESTDIR) with systemd running: make systemd see the units
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		systemctl daemon-reload; journalctl --update-catalog || true; \
		echo "installed; start with: systemctl enable --now iommud.socket iommud.service"; \
	fi

uninstall:
	-@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		systemctl disable --now iommud.service iommud.socket 2>/dev/null || true; fi
	rm -f $(DESTDIR)$(BINDIR)/iommud $(DESTDIR)$(UNITDIR)/iommud.service $(DESTDIR)$(UNITDIR)/iommud.socket \
		$(DESTDIR)$(CATALOGDIR)/iommud.catalog $(DESTDIR)$(MANDIR)/man1/iommud.1 \
		$(DESTDIR)$(BASHCOMPDIR)/iommud $(DESTDIR)$(ZSHCOMPDIR)/_iommud $(DESTDIR)$(FISHCOMPDIR)/iommud.fish \
		$(DESTDIR)$(SYSCONFDIR)/iommud/iommud.toml.default
	@# the configuration goes only when it is still the shipped default
	@c=$(DESTDIR)$(SYSCONFDIR)/iommud/iommud.toml; \
	if [ -f "$$c" ] && [ -f "$(DEFAULT_CONFIG)" ] && cmp -s "$$c" "$(DEFAULT_CONFIG)"; then rm -f "$$c"; \
	elif [ -f "$$c" ]; then echo "keeping modified $$c"; fi
	-@rmdir $(DESTDIR)$(SYSCONFDIR)/iommud 2>/dev/null
	@if [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]; then \
		systemctl daemon-reload; journalctl --update-catalog || true; fi
	@echo "state left in /var/lib/iommud (or /var/lib/private/iommud): remove it by hand if unwanted"

# --- Debian package -------------------------------------------------------------
DEB_ROOT := $(DEB_BUILDDIR)/root

# Included from the top-level Makefile, a missing $(RELEASE_BIN) is built by its rule
# (`make release`); an existing one is packaged as it is (`make release deb` for a fresh one).
deb: $(RELEASE_BIN) install-check-binary
	@test -f "$(CATALOG)" || { echo "$(CATALOG) is missing: the package must ship the journal catalog" >&2; exit 1; }
	@test -f "$(DEFAULT_CONFIG)" || { echo "$(DEFAULT_CONFIG) is missing: the package must ship the default configuration" >&2; exit 1; }
	rm -rf $(DEB_BUILDDIR)
	$(MAKE) --no-print-directory -f $(IOMMUD_TOP)/mk/install.mk install DESTDIR=$(abspath $(DEB_ROOT)) \
		PREFIX=/usr BINDIR=/usr/bin DATADIR=/usr/share MANDIR=/usr/share/man \
		UNITDIR=/usr/lib/systemd/system CATALOGDIR=/usr/lib/systemd/catalog SYSCONFDIR=/etc \
		BASHCOMPDIR=/usr/share/bash-completion/completions ZSHCOMPDIR=/usr/share/zsh/vendor-completions \
		FISHCOMPDIR=/usr/share/fish/vendor_completions.d GEN=$(DEB_BUILDDIR)/gen RELEASE_BIN="$(RELEASE_BIN)" VERSION="$(VERSION)" \
		CATALOG="$(CATALOG)" DEFAULT_CONFIG="$(DEFAULT_CONFIG)"
	@# as dh_strip does, but keeping .note sections (build id, and Swift's own notes)
	strip --strip-unneeded --remove-section=.comment $(DEB_ROOT)/usr/bin/iommud
	$(DEB_ROOT)/usr/bin/iommud --help >/dev/null
	$(INSTALL) -d $(DEB_ROOT)/DEBIAN $(DEB_ROOT)$(DOCDIR)
	sed -e "s|@YEAR@|$$(date -u -d @$(SOURCE_DATE_EPOCH) +%Y)|" $(DEBIAN_DIR)/copyright > $(DEB_ROOT)$(DOCDIR)/copyright
	chmod 0644 $(DEB_ROOT)$(DOCDIR)/copyright
	$(INSTALL) -D -m 0644 $(DEBIAN_DIR)/lintian-overrides $(DEB_ROOT)/usr/share/lintian/overrides/iommud
	sed -e 's|@VERSION@|$(DEB_VERSION)|' -e 's|@MAINTAINER@|$(DEB_MAINTAINER)|' \
		-e "s|@GITREV@|$$(git -C $(IOMMUD_TOP) describe --always --dirty 2>/dev/null || echo unknown)|" \
		-e "s|@DATE@|$$(date -u -R -d @$(SOURCE_DATE_EPOCH))|" \
		$(DEBIAN_DIR)/changelog.in | gzip -9n > $(DEB_ROOT)$(DOCDIR)/changelog.Debian.gz
	gzip -9n $(DEB_ROOT)/usr/share/man/man1/iommud.1
	$(INSTALL) -m 0644 $(DEBIAN_DIR)/conffiles $(DEB_ROOT)/DEBIAN/conffiles
	$(INSTALL) -m 0755 $(DEBIAN_DIR)/postinst $(DEBIAN_DIR)/prerm $(DEBIAN_DIR)/postrm $(DEB_ROOT)/DEBIAN/
	@# shared-library Depends from the binary (dpkg-shlibdeps wants a debian/control)
	mkdir -p $(DEB_BUILDDIR)/shlibs/debian
	printf 'Source: iommud\n\nPackage: iommud\nArchitecture: any\n' > $(DEB_BUILDDIR)/shlibs/debian/control
	cd $(DEB_BUILDDIR)/shlibs && dpkg-shlibdeps -O -e$(abspath $(DEB_ROOT))/usr/bin/iommud \
		| sed -n 's/^shlibs:Depends=//p' > ../shlibs.depends
	@test -s $(DEB_BUILDDIR)/shlibs.depends || { echo "dpkg-shlibdeps found no dependencies" >&2; exit 1; }
	@# procps: /bin/kill for ExecReload=
	sed -e 's|@VERSION@|$(DEB_VERSION)|' -e 's|@ARCH@|$(DEB_ARCH)|' -e 's|@MAINTAINER@|$(DEB_MAINTAINER)|' \
		-e "s|@DEPENDS@|$$(cat $(DEB_BUILDDIR)/shlibs.depends), procps|" \
		-e "s|@INSTALLED_SIZE@|$$(du -k -s --exclude=DEBIAN $(DEB_ROOT) | cut -f1)|" \
		$(DEBIAN_DIR)/control.in > $(DEB_ROOT)/DEBIAN/control
	@# like dh_md5sums: every file but the conffiles (all of /etc here; dpkg tracks those itself)
	cd $(DEB_ROOT) && find . -path ./DEBIAN -prune -o -path ./etc -prune -o -type f -printf '%P\0' | LC_ALL=C sort -z \
		| xargs -0 md5sum > DEBIAN/md5sums
	chmod 0644 $(DEB_ROOT)/DEBIAN/md5sums $(DEB_ROOT)/DEBIAN/control
	find $(DEB_ROOT) -type d -exec chmod 0755 {} +
	@mkdir -p $(dir $(DEB))
	dpkg-deb --root-owner-group -Zxz --build $(DEB_ROOT) $(DEB)
	@echo "built $(DEB)"
