# strata — make demo runs the whole thing on a local directory replica;
# make test installs what the tests need and runs them all.

SHELL := /bin/bash

GO ?= go
# go-sqlite3 (and the VFS) need cgo.
export CGO_ENABLED := 1

GOBIN := $(shell $(GO) env GOPATH)/bin
# Tests find versitygw on PATH (or in GOPATH/bin).
export PATH := $(GOBIN):$(PATH)

VERSITYGW_VERSION   := v1.8.0
# Real Litestream, for the compatibility tests (integration/litestream_*).
LITESTREAM_VERSION  := v0.5.18
FAKEGCS_VERSION     := v1.56.1
AZURITE_VERSION     := 3.37.0
STATICCHECK_VERSION := v0.8.2

# Packages run under the race detector: all but the corruption suite
# (internal/corruption: no goroutines of its own, thousands of damaged
# replicas read; it runs without -race). Measured on 2 cores before the
# write path: about 2.5 minutes with a warm build cache, about 8 minutes
# cold (the race build of SQLite dominates). If the suite grows slow, list
# only the packages with goroutines of their own (e.g. ./storage/...
# ./replica/... ./engine/... ./vfs/...) and the rest run without.
RACE_PKGS ?= $(shell $(GO) list ./... | grep -v /internal/corruption)
TEST_TIMEOUT ?= 15m

# The fuzz targets run briefly on every `make test`, by execution count
# rather than -fuzztime=20s: a duration races Go's fuzz coordinator
# (go.dev/issue/75804, "context deadline exceeded" with no crasher).
# About 20 s each on 2 cores. Longer runs: go test -fuzz=FuzzX ./pkg
FUZZ := $(GO) test -run='^$$' -fuzzminimizetime=3s

DEMO := .cache/demo

# Version of the release artifacts `make dist` writes (archives, wheel,
# npm package).
VERSION ?= 0.1.0

# better-sqlite3 for the README's Node example (built from source here:
# about a minute the first time, then cached in .cache/node).
NODE_DIR := .cache/node
export STRATA_TEST_NODE_MODULES := $(CURDIR)/$(NODE_DIR)/node_modules

# Azurite, the Azure Blob Storage emulator the abs:// tests run against
# (an npm package, cached in .cache/azurite).
AZURITE_DIR := .cache/azurite
export STRATA_TEST_AZURITE := $(CURDIR)/$(AZURITE_DIR)/node_modules/azurite/dist/src/blob/main.js

.PHONY: all build build-ext sqlite-headers demo test test-deps node-deps vet lint bench clean fixtures dist dist-deps test-dist

all: build

build: build-ext
	$(GO) build -buildvcs=auto -o bin/strata ./cmd/strata

# The SQLite loadable extension (see "The SQLite extension" in README.md).
# c-shared also writes a C header nobody needs.
build-ext: sqlite-headers
	$(GO) build -buildmode=c-shared -tags SQLITE3VFS_LOADABLE_EXT -o bin/strata.so ./extension
	@rm -f bin/strata.h

# The VFS's C shim includes sqlite3.h / sqlite3ext.h (Debian: libsqlite3-dev).
sqlite-headers:
	@if [ ! -f /usr/include/sqlite3ext.h ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "==> apt-get install libsqlite3-dev"; \
			apt-get update -qq >/dev/null && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq libsqlite3-dev >/dev/null; \
		else \
			echo "/usr/include/sqlite3ext.h missing and not root: apt-get install libsqlite3-dev" >&2; exit 1; \
		fi; \
	fi

# The benchmark: versitygw behind a latency-injecting proxy (see README).
# BENCHFLAGS=-full for the large sizes, -json for machines.
bench: test-deps
	$(GO) build -o bin/strata-bench ./cmd/strata-bench
	bin/strata-bench $(BENCHFLAGS)

# The demo: create a database, import it into a directory replica, list the
# replica, query it in place, restore it to a file and read the file back.
demo: build
	@$(GO) build -o bin/demo ./internal/demo
	@rm -rf $(DEMO) && mkdir -p $(DEMO)
	@echo "==> create a sample database"
	bin/demo create $(DEMO)/shop.db
	@echo "==> import it into a local directory replica"
	bin/strata import $(DEMO)/shop.db $(DEMO)/replica
	@echo "==> list the replica"
	bin/strata ls $(DEMO)/replica
	@echo "==> query the replica in place"
	bin/strata query $(DEMO)/replica "select count(*) as orders, sum(cents) as cents from orders"
	@echo "==> restore it to a file"
	bin/strata restore -o $(DEMO)/restored.db $(DEMO)/replica
	@echo "==> read the restored file"
	bin/demo query $(DEMO)/restored.db "select customer, count(*), sum(cents) from orders group by customer order by sum(cents) desc limit 3"

# Regenerate the Litestream fixtures in testdata/ (see testdata/README.md)
# with the real `litestream replicate`; about half a minute. It needs
# litestream v0.5.18 and says how to install it when it is missing.
fixtures:
	$(GO) run ./internal/fixturegen -out testdata

# What the tests need: the storage emulators (versitygw for S3,
# fake-gcs-server for GCS, Azurite for Azure, nginx as a static web server),
# Litestream (compatibility with the replicas it writes and reads), the
# sqlite3 shell and Python 3 (compatibility tests of the loadable extension).
test-deps:
	@command -v versitygw >/dev/null 2>&1 || { \
		echo "==> go install versitygw@$(VERSITYGW_VERSION)"; \
		$(GO) install github.com/versity/versitygw/cmd/versitygw@$(VERSITYGW_VERSION); }
	@[ "$$(litestream version 2>/dev/null)" = "$(LITESTREAM_VERSION)" ] || { \
		echo "==> go install litestream@$(LITESTREAM_VERSION)"; \
		$(GO) install github.com/benbjohnson/litestream/cmd/litestream@$(LITESTREAM_VERSION); }
	@command -v fake-gcs-server >/dev/null 2>&1 || { \
		echo "==> go install fake-gcs-server@$(FAKEGCS_VERSION)"; \
		$(GO) install github.com/fsouza/fake-gcs-server@$(FAKEGCS_VERSION); }
	@if ! command -v nginx >/dev/null 2>&1 && [ ! -x /usr/sbin/nginx ] || ! command -v npm >/dev/null 2>&1; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "==> apt-get install nginx-light nodejs npm"; \
			apt-get update -qq >/dev/null && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx-light nodejs npm >/dev/null; \
		else \
			echo "nginx or npm missing and not root: apt-get install nginx-light nodejs npm" >&2; exit 1; \
		fi; \
	fi
	@if [ ! -f "$(STRATA_TEST_AZURITE)" ]; then \
		echo "==> npm install azurite@$(AZURITE_VERSION) (into $(AZURITE_DIR))"; \
		mkdir -p $(AZURITE_DIR) && cd $(AZURITE_DIR) && \
		npm install --silent --no-audit --no-fund azurite@$(AZURITE_VERSION) >/dev/null; \
	fi
	@if [ ! -x /usr/bin/sqlite3 ] || [ ! -x /usr/bin/python3 ] || [ ! -f /usr/include/sqlite3ext.h ] || ! command -v nm >/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "==> apt-get install sqlite3 python3 libsqlite3-dev binutils"; \
			apt-get update -qq >/dev/null && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq sqlite3 python3 libsqlite3-dev binutils >/dev/null; \
		else \
			echo "sqlite3 or python3 missing from /usr/bin and not root: install them with apt-get" >&2; exit 1; \
		fi; \
	fi

# Node is optional on a developer's machine; where it exists, the README's
# Node example is tested (in CI it must be).
node-deps:
	@if command -v npm >/dev/null && [ ! -d $(NODE_DIR)/node_modules/better-sqlite3/build ]; then \
		echo "==> npm install better-sqlite3@12 (into $(NODE_DIR))"; \
		mkdir -p $(NODE_DIR) && cd $(NODE_DIR) && \
		npm install --silent --no-audit --no-fund better-sqlite3@12 >/dev/null; \
	fi

# Release artifacts in dist/: the command and the extension for linux
# amd64 and arm64 as .tar.gz, Python wheels, an npm package, SHA256SUMS
# (see scripts/dist.sh and "Packages" in README.md).
dist: sqlite-headers dist-deps
	VERSION=$(VERSION) GO=$(GO) scripts/dist.sh

# arm64 is built with Debian's cross compiler and arm64 C library; the npm
# package is made by npm pack.
dist-deps:
	@missing=""; \
	command -v aarch64-linux-gnu-gcc >/dev/null || missing="$$missing gcc-aarch64-linux-gnu"; \
	[ -f /usr/aarch64-linux-gnu/include/stdio.h ] || missing="$$missing libc6-dev-arm64-cross"; \
	command -v npm >/dev/null || missing="$$missing npm"; \
	[ -x /usr/bin/python3 ] || missing="$$missing python3"; \
	if [ -n "$$missing" ]; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "==> apt-get install$$missing"; \
			apt-get update -qq >/dev/null && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing >/dev/null; \
		else \
			echo "make dist needs these Debian packages and is not root: apt-get install$$missing" >&2; exit 1; \
		fi; \
	fi

# Builds dist/ and tests what it holds: checksums, archive contents (the
# amd64 command run on the shop fixture; arm64 binaries checked to be
# arm64 ELF), the wheel installed into a fresh virtualenv of
# /usr/bin/python3, the npm package installed into an empty directory.
test-dist: dist test-deps node-deps
	@if ! /usr/bin/python3 -c 'import ensurepip, venv' 2>/dev/null; then \
		if [ "$$(id -u)" = 0 ]; then \
			echo "==> apt-get install python3-venv"; \
			apt-get update -qq >/dev/null && \
			DEBIAN_FRONTEND=noninteractive apt-get install -y -qq python3-venv >/dev/null; \
		else \
			echo "python3 -m venv does not work and not root: apt-get install python3-venv" >&2; exit 1; \
		fi; \
	fi
	STRATA_DIST=$(CURDIR)/dist $(GO) test -tags dist -count=1 -timeout $(TEST_TIMEOUT) -run TestDist ./integration

vet: sqlite-headers
	$(GO) vet ./...
	$(GO) vet -tags SQLITE3VFS_LOADABLE_EXT ./extension ./vfs

test: test-deps node-deps vet lint
	$(GO) test -race -timeout $(TEST_TIMEOUT) $(RACE_PKGS)
	@rest="$$($(GO) list ./... | grep -v -x -F "$$($(GO) list $(RACE_PKGS))" || true)"; \
	if [ -n "$$rest" ]; then echo "$(GO) test -timeout $(TEST_TIMEOUT) (without -race) $$rest"; \
		$(GO) test -timeout $(TEST_TIMEOUT) $$rest; fi
	$(FUZZ) -fuzz=FuzzIndex -fuzztime=200000x ./replica
	$(FUZZ) -fuzz=FuzzReadPath -fuzztime=600x ./internal/corruption
	$(MAKE) test-dist

lint:
	@out="$$(gofmt -l .)"; if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) ./...
	$(GO) run honnef.co/go/tools/cmd/staticcheck@$(STATICCHECK_VERSION) -tags SQLITE3VFS_LOADABLE_EXT ./extension ./vfs

clean:
	rm -rf bin .cache dist
