# Load and fault bench (issue 9): the plugin bundle on a real Mattermost 11.4.0 with PostgreSQL and an
# in-process graphsim. Included by the root Makefile, which defines GO and BUNDLE. docs/performance.md has the
# latest figures. BENCH_SCALE=0.1 shortens every run and burst for a quick look; BENCH_USERS sizes the seed
# (an unlicensed server refuses its 251st user).
BENCH_VERSION ?= 11.4.0
BENCH_SCALE ?= 1
BENCH_USERS ?= 240
BENCH_FLAGS ?=

.PHONY: bench bench-faults bench-unit

bench: dist ## load bench: 50/200/500 msg/s, attachments, 20,000 burst; prints figures, writes bench-results.json
	@e2e/build-server.sh $(BENCH_VERSION) >/dev/null
	cd e2e && PLUGIN_BUNDLE=$(CURDIR)/$(BUNDLE) $(GO) run ./bench/cmd/bench -mode bench -version $(BENCH_VERSION) \
		-users $(BENCH_USERS) -scale $(BENCH_SCALE) -out $(CURDIR)/bench-results.json -profiles $(CURDIR) $(BENCH_FLAGS)

bench-faults: dist ## fault bench on a private PostgreSQL: plugin SIGKILL, PostgreSQL restart, Graph 429/503, duplicates, forged flood, subscription removal; fails on any lost or duplicated DM
	@e2e/build-server.sh $(BENCH_VERSION) >/dev/null
	cd e2e && E2E_PG=private PLUGIN_BUNDLE=$(CURDIR)/$(BUNDLE) $(GO) run ./bench/cmd/bench -mode faults -version $(BENCH_VERSION) \
		-users $(BENCH_USERS) -scale $(BENCH_SCALE) -out $(CURDIR)/bench-faults-results.json $(BENCH_FLAGS)

bench-unit: ## the bench's own tests (percentiles, counting, ack timer, /proc sampling)
	cd e2e && $(GO) test -count=1 ./bench/...
