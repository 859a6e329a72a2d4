# End-to-end tests: the plugin bundle on real Mattermost servers. Included by the root Makefile, which defines
# GO and BUNDLE. e2e/README.md describes the harness.
# Newest served release first (the single-version scenarios run on it), then the plugin's min_server_version;
# 11.1.0 is also pinned and can be added here. e2e/README.md says which release each pinning module is.
E2E_SERVER_VERSIONS ?= 11.4.0,10.3.0
E2E_COMMA := ,

.PHONY: e2e e2e-servers

e2e-servers: ## build (once, 15-30 minutes each on 2 cores) and cache the Mattermost servers in e2e/.cache
	@for v in $(subst $(E2E_COMMA), ,$(E2E_SERVER_VERSIONS)); do e2e/build-server.sh $$v >/dev/null || exit 1; done

e2e: dist e2e-servers ## end-to-end tests: install and run the bundle on each Mattermost in E2E_SERVER_VERSIONS
	cd e2e && PLUGIN_BUNDLE=$(CURDIR)/$(BUNDLE) E2E_SERVER_VERSIONS=$(E2E_SERVER_VERSIONS) $(GO) test -count=1 -timeout 30m ./...

.PHONY: e2e-vet
e2e-vet: ## go vet the e2e module (the root `vet` does not reach it: it is its own module)
	cd e2e && $(GO) vet ./...
