// Package e2e holds the end-to-end tests: the plugin bundle installed on real Mattermost servers (one per version
// in E2E_SERVER_VERSIONS) that run against PostgreSQL. The harness package starts and drives the servers.
package e2e
