# Corral — build, test, run and benchmark.
#
#   make run    build and start a single-node cluster on this machine
#   make test   install or check what the tests need, then run them
#   make install / uninstall   the daemons, CNI plugins, systemd units and
#               /etc/default files (PREFIX=/usr/local, DESTDIR for staging)
#
# Packages whose tests exercise many goroutines run under the race detector.

GO        ?= go
BIN       := bin
DAEMONS   := masterd agentd routerd
# agentd runs corral-shim, installed next to it, as each task's shim, and
# corral-shim has each container's init execute corral-exec, next to it too,
# to load the task's precompiled seccomp filter (isolation/seccompexec.go).
# corral-exec runs inside containers, whose roots may hold no libc: it is
# built without cgo, static.
HELPERS   := agentd/corral-shim
STATIC_HELPERS := isolation/corral-exec
TOOLS     := bench/simagents bench/containerstart
RACE_PKGS := ./masterd/master/... ./masterd/leader/... ./masterd/offer/... ./masterd/server/... ./masterd/metrics/... \
             ./agentd/masterlink/... ./agentd/status/... ./agentd/health/... ./agentd/fetch/... \
             ./cni/ipam/... ./cni/etcdipam/... \
             ./masterd/marathon/events/... ./masterd/marathon/api/... ./masterd/marathon/plan/... \
             ./routerd/watch/... ./routerd/tcpproxy/... ./routerd/router/... ./routerd/daemon/... \
             ./routerd/httpproxy/... ./routerd/snapshot/... ./dns/resolver/... ./dns/source/... ./accept/...
# Debian packages the tests need.
DEB_PKGS  := gcc pkgconf libseccomp-dev curl util-linux iproute2 runc busybox-static containernetworking-plugins chromium
# Containers filter system calls through libseccomp (cgo): every go command
# here, and the go builds tests run, get the seccomp build tag. Without it
# agentd refuses to start containers with a seccomp profile.
export GOFLAGS := $(shell $(GO) env GOFLAGS 2>/dev/null) -tags=seccomp
RUN_DIR   ?= $(CURDIR)/.run
# systemd-analyze verifies the units.
DEB_PKGS  += systemd

.PHONY: all build test run bench lint deps clean install uninstall verify-units

all: build

# The CNI plugins start once per container command: built without cgo,
# static, they skip the dynamic loader and libc (bench/RESULTS.md).
build:
	@mkdir -p $(BIN)
	$(GO) build -o $(BIN)/ $(addprefix ./,$(DAEMONS)) $(addprefix ./,$(HELPERS)) $(addprefix ./,$(TOOLS))
	CGO_ENABLED=0 $(GO) build -o $(BIN)/ $(addprefix ./,$(STATIC_HELPERS))
	CGO_ENABLED=0 $(GO) build -o $(BIN)/corral-macvlan ./cni/macvlan
	CGO_ENABLED=0 $(GO) build -o $(BIN)/corral-ipam ./cni/ipam
	CGO_ENABLED=0 $(GO) build -o $(BIN)/corral-ipam-etcd ./cni/ipametcd

deps:
	@command -v $(GO) >/dev/null || { echo "make: Go 1.26 is missing: install it from go.dev/dl and put it on PATH" >&2; exit 1; }
	@missing=""; for p in $(DEB_PKGS); do dpkg -s $$p >/dev/null 2>&1 || missing="$$missing $$p"; done; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then echo "installing Debian packages:$$missing"; \
			apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else echo "make: missing Debian packages:$$missing (run: sudo apt-get install$$missing)" >&2; exit 1; fi; \
	fi

lint:
	@out=$$(gofmt -l $$(git ls-files -co --exclude-standard '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

test: deps lint verify-units
	$(GO) test -race -count=1 -timeout 15m $(RACE_PKGS)
	$(GO) test -count=1 -timeout 15m $$($(GO) list ./... | grep -vxF "$$($(GO) list $(RACE_PKGS))")

bench: DEB_PKGS += wrk haproxy nginx dnsperf knot
bench: deps build
	$(GO) test -run '^$$' -bench . -benchtime 20x ./masterd/offer/
	$(BIN)/simagents -masterd $(BIN)/masterd -agents 10000 -hold 20s -ping 5s
	$(BIN)/simagents -masterd $(BIN)/masterd -agents 2000 -hold 10s -ping 2s -compare-auth -auth-rounds 3
	$(GO) test -run '^$$' -bench 'AgentHeartbeat' -count 5 ./masterd/master/
	$(BIN)/containerstart -n 50
	$(GO) test -run '^$$' -bench . -benchtime 50x -count 3 ./cni/macvlan/
	$(GO) test -run '^$$' -bench 'Launch100' -benchtime 3x ./masterd/marathon/
	$(GO) test -run '^$$' -bench 'AppsEmbedTasks1000' -benchtime 5s ./masterd/marathon/
	$(GO) test -run '^$$' -bench 'RoutePropagation|DNSPropagation' -benchtime 100x ./routerd/
	$(GO) run ./bench/proxybench -rounds 3
	$(GO) run ./bench/dnsbench -runs 3

# The cluster's welcome message suggests dig for the resolver.
run: DEB_PKGS += bind9-dnsutils
run: deps build
	RUN_DIR=$(RUN_DIR) BIN=$(BIN) deploy/run-local.sh

include deploy/install.mk

clean:
	rm -rf $(BIN) $(RUN_DIR)
