// Command plugin is the server half of the MS Teams notifications plugin: Mattermost starts it as a
// child process and talks to it over RPC.
package main

import (
	"github.com/mattermost/mattermost/server/public/plugin"
)

func main() {
	plugin.ClientMain(&Plugin{})
}
