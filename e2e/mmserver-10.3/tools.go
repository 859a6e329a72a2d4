//go:build tools

// Package mmserver exists only to pin the Mattermost server version that the end-to-end tests run against;
// `go build github.com/mattermost/mattermost/server/v8/cmd/mattermost` in this directory builds it.
package mmserver

import (
	_ "github.com/mattermost/mattermost/server/v8/cmd/mattermost"
)
