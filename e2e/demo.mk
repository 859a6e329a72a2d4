# `make demo`: the plugin on a local Mattermost with graphsim standing in for Microsoft Teams; `make demo-stop`
# stops it. Included by the root Makefile (which defines GO). MM_DIST=/path/to/unpacked/mattermost runs an
# official release (with its web app) instead of the server built from the Go module proxy. E2E_CACHE_DIR moves
# the server cache (default e2e/.cache), as for the tests.
DEMO_DIR := .demo
DEMO_MM_VERSION ?= 11.4.0

.PHONY: demo demo-stop demo-connect

demo: ## run a demo: Mattermost + graphsim + the plugin, users connected, Teams messages; prints URL and logins
	@mkdir -p $(DEMO_DIR)/bin
	@# The Mattermost server (the longest build of a first run) compiles in the background while the plugin,
	@# graphsim and the demo driver are built: the compiler leaves part of the 2 cores idle on big packages.
	@set -e; begin=$$(date +%s); server_pid=; \
	if [ -z "$(MM_DIST)" ]; then \
		echo "==> Mattermost $(DEMO_MM_VERSION) server binary, in the background (first time only; log: $(DEMO_DIR)/build-server.log)"; \
		e2e/build-server.sh $(DEMO_MM_VERSION) $(E2E_CACHE_DIR) >$(DEMO_DIR)/build-server.log 2>&1 & server_pid=$$!; \
	fi; \
	echo "==> building the plugin bundle for this machine"; bundle=$$(scripts/bundle-host.sh); \
	echo "==> building graphsim"; $(GO) build -o $(DEMO_DIR)/bin/graphsim ./graphsim/cmd/graphsim; \
	echo "==> building the demo driver"; (cd e2e && $(GO) build -o ../$(DEMO_DIR)/bin/demo ./cmd/demo); \
	if [ -n "$$server_pid" ]; then \
		echo "==> waiting for the Mattermost server build"; \
		wait $$server_pid || { tail -20 $(DEMO_DIR)/build-server.log; echo "Mattermost server build failed; full log in $(DEMO_DIR)/build-server.log"; exit 1; }; \
	fi; \
	echo "==> built in $$(( $$(date +%s) - begin )) s"; \
	MM_DIST="$(MM_DIST)" $(DEMO_DIR)/bin/demo -dir $(DEMO_DIR) -version $(DEMO_MM_VERSION) -bundle "$(CURDIR)/$$bundle" -graphsim "$(CURDIR)/$(DEMO_DIR)/bin/graphsim" -repo "$(CURDIR)" start

# NAME, not USER: the shell's USER (your login) would silently stand in for a forgotten argument.
demo-connect: ## connect another demo user to Teams in the running demo: make demo-connect NAME=bob (or carol)
	@if [ -x $(DEMO_DIR)/bin/demo ]; then $(DEMO_DIR)/bin/demo -dir $(DEMO_DIR) connect "$(NAME)"; else echo "no demo running: make demo first"; exit 1; fi

demo-stop: ## stop everything `make demo` started (by PID)
	@if [ -x $(DEMO_DIR)/bin/demo ]; then $(DEMO_DIR)/bin/demo -dir $(DEMO_DIR) stop; else echo "no demo to stop"; fi
