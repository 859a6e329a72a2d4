package main

import (
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

// run executes a client command and returns what it printed.
func run(t *testing.T, args ...string) string {
	t.Helper()
	r, w, err := os.Pipe()
	require.NoError(t, err)
	stdout := os.Stdout
	os.Stdout = w
	runErr := client(args[0], args[1:])
	os.Stdout = stdout
	require.NoError(t, w.Close())
	out, _ := io.ReadAll(r)
	require.NoError(t, runErr)
	return string(out)
}

func TestClientCommandsDriveARunningSim(t *testing.T) {
	caPath := filepath.Join(t.TempDir(), "ca.pem")
	sim, err := graphsim.New(graphsim.Options{CACertPath: caPath})
	require.NoError(t, err)
	require.NoError(t, sim.LoadSeed(graphsim.DemoSeed()))
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	common := []string{"--sim", sim.BaseURL(), "--ca", caPath}

	var users []graphsim.User
	require.NoError(t, json.Unmarshal([]byte(run(t, append([]string{"users"}, common...)...)), &users))
	assert.Len(t, users, 3)

	var sent struct{ ID string }
	out := run(t, append([]string{"send"}, append(common, "--from", "alice@demo.test", "--chat", graphsim.DemoGroupChatID, "--mention", "bob@demo.test", `<p>hello <at id="0">Bob</at></p>`)...)...)
	require.NoError(t, json.Unmarshal([]byte(out), &sent))
	require.NotEmpty(t, sent.ID)

	run(t, append([]string{"edit"}, append(common, "--chat", graphsim.DemoGroupChatID, "--id", sent.ID, "<p>hello again</p>")...)...)
	run(t, append([]string{"react"}, append(common, "--chat", graphsim.DemoGroupChatID, "--id", sent.ID, "--user", "bob@demo.test")...)...)
	run(t, append([]string{"presence"}, append(common, "--user", graphsim.DemoBobID, "--availability", "Busy")...)...)
	run(t, append([]string{"delete"}, append(common, "--chat", graphsim.DemoGroupChatID, "--id", sent.ID)...)...)

	var chats []graphsim.ChatInfo
	require.NoError(t, json.Unmarshal([]byte(run(t, append([]string{"chats"}, common...)...)), &chats))
	assert.Len(t, chats, 3)
	assert.Error(t, client("nonsense", common))
}
