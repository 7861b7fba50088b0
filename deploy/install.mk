# make install, make uninstall and the units' check; included by the Makefile.
#
#   make install                       /usr/local/bin, units in /usr/local/lib/systemd/system
#   make install PREFIX=/usr           /usr/bin, units in /usr/lib/systemd/system (packaging)
#   make install DESTDIR=/tmp/stage    the same tree under a staging directory
#   make uninstall [PURGE=yes]         removes what install put; the /etc/default
#                                      files only if unedited, the data only with PURGE=yes
#
# The units go under PREFIX, where systemd looks for units an administrator
# installed (/usr/local/lib/systemd/system) or a package ships
# (/usr/lib/systemd/system), leaving /etc/systemd/system to the operator's
# overrides (systemctl edit). The CNI plugins go to /usr/lib/corral/cni
# whatever PREFIX is: it is the first of agentd's --network-cni-plugins-dir.

PREFIX     ?= /usr/local
DESTDIR    ?=
BINDIR     := $(PREFIX)/bin
UNITDIR    ?= $(PREFIX)/lib/systemd/system
DOCDIR     := $(PREFIX)/share/doc/corral
CNIDIR     := /usr/lib/corral/cni
CNI_PLUGINS := corral-macvlan corral-ipam corral-ipam-etcd
UNITS      := $(addsuffix .service,$(DAEMONS))
DATA_DIRS  := /var/lib/corral/master /var/lib/corral/agent
CONF_DIRS  := /etc/corral/cni/net.d
# systemctl runs only when installing into the running system.
SYSTEMD_LIVE = [ -z "$(DESTDIR)" ] && [ -d /run/systemd/system ]

# install(1) replaces a file by unlinking it first, so an upgrade succeeds
# while agentd and its tasks' shims run the old binary.
install: build
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(CNIDIR) $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)/etc/default
	install -m 755 $(addprefix $(BIN)/,$(DAEMONS) $(notdir $(HELPERS) $(STATIC_HELPERS))) $(DESTDIR)$(BINDIR)/
	install -m 755 $(addprefix $(BIN)/,$(CNI_PLUGINS)) $(DESTDIR)$(CNIDIR)/
	@for u in $(UNITS); do \
		echo "install deploy/$$u -> $(DESTDIR)$(UNITDIR)/$$u"; \
		sed 's|/usr/local/bin/|$(BINDIR)/|g; s|/usr/local/share/doc/corral/|$(DOCDIR)/|g' deploy/$$u >$(DESTDIR)$(UNITDIR)/$$u.tmp && \
		chmod 644 $(DESTDIR)$(UNITDIR)/$$u.tmp && mv -f $(DESTDIR)$(UNITDIR)/$$u.tmp $(DESTDIR)$(UNITDIR)/$$u || exit 1; \
	done
	@for d in $(DAEMONS); do f=$(DESTDIR)/etc/default/corral-$$d; \
		if [ -e $$f ]; then echo "keeping $$f"; else install -m 644 deploy/default/corral-$$d $$f && echo "install $$f"; fi; \
	done
	install -m 644 README.md $(DESTDIR)$(DOCDIR)/
	install -d -m 700 $(addprefix $(DESTDIR),$(DATA_DIRS))
	install -d -m 755 $(addprefix $(DESTDIR),$(CONF_DIRS))
	@if $(SYSTEMD_LIVE); then systemctl daemon-reload; fi
	@echo "installed; next: edit $(DESTDIR)/etc/default/corral-<role>, then systemctl enable --now masterd|agentd|routerd"

# Stopping agentd leaves its tasks running (KillMode=process): kill them
# through Marathon first if the host is to be left empty.
uninstall:
	@if $(SYSTEMD_LIVE); then systemctl disable --now $(UNITS) || true; fi
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(DAEMONS) $(notdir $(HELPERS) $(STATIC_HELPERS))) $(addprefix $(DESTDIR)$(CNIDIR)/,$(CNI_PLUGINS))
	rm -f $(addprefix $(DESTDIR)$(UNITDIR)/,$(UNITS)) $(DESTDIR)$(DOCDIR)/README.md
	@for d in $(DAEMONS); do f=$(DESTDIR)/etc/default/corral-$$d; \
		if [ ! -e $$f ]; then :; \
		elif [ "$(PURGE)" = yes ] || cmp -s deploy/default/corral-$$d $$f; then rm -f $$f && echo "rm $$f"; \
		else echo "keeping $$f (edited; PURGE=yes removes it)"; fi; \
	done
	@if [ "$(PURGE)" = yes ]; then \
		echo "rm -r $(DESTDIR)/var/lib/corral $(DESTDIR)/etc/corral"; \
		rm -rf --one-file-system $(DESTDIR)/var/lib/corral $(DESTDIR)/etc/corral; \
	else \
		for d in $(DATA_DIRS) $(CONF_DIRS); do \
			[ ! -e $(DESTDIR)$$d ] || rmdir $(DESTDIR)$$d 2>/dev/null || echo "keeping $(DESTDIR)$$d (not empty; PURGE=yes removes it)"; \
		done; \
	fi
	@# Directories install created, if nothing else is in them.
	@for d in $(CNIDIR) /usr/lib/corral $(DOCDIR) /var/lib/corral /etc/corral/cni /etc/corral; do \
		rmdir $(DESTDIR)$$d 2>/dev/null || true; done
	@if $(SYSTEMD_LIVE); then systemctl daemon-reload; fi

# The units as installed, checked by systemd-analyze against this build's
# binaries (it also checks that ExecStart= names an executable).
verify-units: build
	@command -v systemd-analyze >/dev/null || { echo "make: systemd-analyze is missing, which verifies deploy/*.service: install the Debian package systemd (apt-get install systemd)" >&2; exit 1; }
	@d=$$(mktemp -d) && trap 'rm -rf "$$d"' EXIT && \
	for u in $(UNITS); do sed 's|/usr/local/bin/|$(abspath $(BIN))/|g' deploy/$$u >"$$d/$$u" || exit 1; done && \
	echo "systemd-analyze verify deploy/*.service" && \
	out=$$(systemd-analyze verify "$$d"/*.service 2>&1); rc=$$?; \
	if [ $$rc != 0 ] || [ -n "$$out" ]; then echo "$$out" | sed "s|$$d/||g" >&2; echo "make: systemd-analyze verify failed (exit $$rc)" >&2; exit 1; fi
