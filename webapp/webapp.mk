# Webapp: the plugin's browser bundle and its tests. Included by the root Makefile.
.PHONY: webapp webapp-test webapp-test-unit webapp-test-browser

webapp/node_modules: webapp/package.json webapp/package-lock.json
	cd webapp && npm ci --no-audit --no-fund
	@touch $@

WEBAPP_SOURCES := $(shell find webapp/src webapp/i18n -type f 2>/dev/null) webapp/build.mjs webapp/package.json

webapp/dist/main.js: webapp/node_modules $(WEBAPP_SOURCES)
	cd webapp && npm run build

webapp: webapp/dist/main.js ## build webapp/dist/main.js

webapp-test-unit: webapp/node_modules ## webapp type check and component tests (Vitest, jsdom)
	cd webapp && npm run check-types && npm test

# Needs a running Mattermost with the plugin: E2E_MM_URL, E2E_ADMIN_TOKEN, E2E_USER_TOKEN (see webapp/README.md);
# the e2e suite starts one and runs this. Chromium comes from Debian (apt-get install chromium).
webapp-test-browser: webapp/node_modules ## webapp browser tests against a real Mattermost (headless Chromium)
	cd webapp && npm run test:browser

webapp-test: webapp-test-unit webapp-test-browser ## all webapp tests
