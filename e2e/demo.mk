# `make demo`: the plugin on a local Mattermost with graphsim standing in for Microsoft Teams; `make demo-stop`
# stops it. Included by the root Makefile (which defines GO). MM_DIST=/path/to/unpacked/mattermost runs an
# official release (with its web app) instead of the server built from the Go module proxy. E2E_CACHE_DIR moves
# the server cache (default e2e/.cache), as for the tests.
DEMO_DIR := .demo
DEMO_MM_VERSION ?= 11.4.0

.PHONY: demo demo-stop

demo: ## run a demo: Mattermost + graphsim + the plugin, users connected, Teams messages; prints URL and logins
	@mkdir -p $(DEMO_DIR)/bin
	@echo "==> building the plugin bundle for this machine"
	@bundle=$$(scripts/bundle-host.sh) && \
	echo "==> building graphsim" && $(GO) build -o $(DEMO_DIR)/bin/graphsim ./graphsim/cmd/graphsim && \
	if [ -z "$(MM_DIST)" ]; then echo "==> Mattermost $(DEMO_MM_VERSION) server binary (about 2 minutes the first time, then cached)" && \
		e2e/build-server.sh $(DEMO_MM_VERSION) $(E2E_CACHE_DIR) >/dev/null; fi && \
	echo "==> building the demo driver" && (cd e2e && $(GO) build -o ../$(DEMO_DIR)/bin/demo ./cmd/demo) && \
	MM_DIST="$(MM_DIST)" $(DEMO_DIR)/bin/demo -dir $(DEMO_DIR) -version $(DEMO_MM_VERSION) -bundle "$(CURDIR)/$$bundle" -graphsim "$(CURDIR)/$(DEMO_DIR)/bin/graphsim" start

demo-stop: ## stop everything `make demo` started (by PID)
	@if [ -x $(DEMO_DIR)/bin/demo ]; then $(DEMO_DIR)/bin/demo -dir $(DEMO_DIR) stop; else echo "no demo to stop"; fi
