# Build, test and run the MS Teams notifications plugin. `make help` lists the targets.
SHELL := /bin/bash
GO ?= go
PLUGIN_ID := $(shell python3 -c 'import json;print(json.load(open("plugin.json"))["id"])')
PLUGIN_VERSION := $(shell python3 -c 'import json;print(json.load(open("plugin.json"))["version"])')
BUNDLE := dist/$(PLUGIN_ID)-$(PLUGIN_VERSION).tar.gz
GO_BUILD_FLAGS ?= -trimpath -ldflags "-s -w -X main.version=$(PLUGIN_VERSION)"
SERVER_SOURCES := $(shell find server -name '*.go' -not -name '*_test.go') go.mod go.sum plugin.json
# Test databases are created by the tests themselves on this server.
export MSTEAMS_TEST_PG ?= postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable

.PHONY: help all dist server test test-go check vet fmt lint clean

help: ## list the targets
	@grep -hE '^[a-zA-Z_-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  %-14s %s\n", $$1, $$2}'

all: check test dist ## check, test and bundle

server/dist/plugin-linux-amd64: $(SERVER_SOURCES)
	cd server && CGO_ENABLED=0 GOOS=linux GOARCH=amd64 $(GO) build $(GO_BUILD_FLAGS) -o dist/plugin-linux-amd64 .

server/dist/plugin-linux-arm64: $(SERVER_SOURCES)
	cd server && CGO_ENABLED=0 GOOS=linux GOARCH=arm64 $(GO) build $(GO_BUILD_FLAGS) -o dist/plugin-linux-arm64 .

server: server/dist/plugin-linux-amd64 server/dist/plugin-linux-arm64 ## build the server executables

dist: server webapp ## build the installable bundle dist/<id>-<version>.tar.gz
	rm -rf dist/$(PLUGIN_ID) && mkdir -p dist/$(PLUGIN_ID)/server/dist dist/$(PLUGIN_ID)/webapp/dist
	cp plugin.json README.md LICENSE dist/$(PLUGIN_ID)/
	cp -r assets dist/$(PLUGIN_ID)/
	cp server/dist/plugin-linux-amd64 server/dist/plugin-linux-arm64 dist/$(PLUGIN_ID)/server/dist/
	cp webapp/dist/main.js dist/$(PLUGIN_ID)/webapp/dist/
	tar -C dist -czf $(BUNDLE) $(PLUGIN_ID)
	rm -rf dist/$(PLUGIN_ID)
	@echo "bundle: $(BUNDLE)"

test: dist test-go webapp-test-unit e2e ## run every test suite: Go packages, webapp components, then end to end on real Mattermost servers (with the webapp in headless Chromium)

test-go: ## Go unit and integration tests (real PostgreSQL)
	PLUGIN_BUNDLE=$(CURDIR)/$(BUNDLE) $(GO) test -count=1 -p 2 ./...

check: vet fmt lint ## go vet, gofmt and staticcheck

vet:
	$(GO) vet ./...

fmt:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

lint:
	$(GO) run honnef.co/go/tools/cmd/staticcheck@v0.8.2 ./...

clean: ## remove build output
	rm -rf dist server/dist webapp/dist

include webapp/webapp.mk
include e2e/e2e.mk
include e2e/demo.mk
include e2e/bench.mk
