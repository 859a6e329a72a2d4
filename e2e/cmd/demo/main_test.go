package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/e2e/harness"
	"github.com/teamsnotify/msteams-sync/graphsim"
)

// The commands the demo prints work from any directory: every path in them is absolute and names what it
// should (the sample file exists, make -C points at the repository's Makefile).
func TestInstructionsUseAbsolutePaths(t *testing.T) {
	repo, err := filepath.Abs("../../..")
	require.NoError(t, err)
	state := filepath.Join(repo, DefaultDir)
	text := instructions(instructionsInfo{
		took: 90 * time.Second, siteURL: "http://127.0.0.1:8065", simURL: "https://127.0.0.1:8443",
		caPath: filepath.Join(state, "graphsim-ca.pem"), graphsimBin: filepath.Join(state, "bin", "graphsim"),
		runDir: "/tmp/mm-e2e-11.4.0-123", simLog: filepath.Join(state, "graphsim.log"), repo: repo, stateDir: state,
		oneOnOne: "19:abc_def@unq.gbl.spaces", passwords: map[string]string{"alice": "a", "bob": "b", "carol": "c"},
	})

	var commands [][]string
	for _, line := range strings.Split(text, "\n") {
		// Commands are indented; the prose around them is not.
		if !strings.HasPrefix(line, "  ") && !strings.HasPrefix(line, "Stop everything: ") {
			continue
		}
		line = strings.TrimSpace(line)
		if i := strings.Index(line, "#"); i >= 0 {
			line = line[:i]
		}
		if strings.HasPrefix(line, "Stop everything: ") {
			line = strings.TrimPrefix(line, "Stop everything: ")
		}
		f := strings.Fields(line)
		if len(f) > 0 && (strings.HasPrefix(f[0], "/") || f[0] == "make" || f[0] == "export") {
			commands = append(commands, f)
		}
	}
	require.GreaterOrEqual(t, len(commands), 7, "the instructions hold the sample commands:\n%s", text)

	sawFile, sawMake := false, 0
	for _, c := range commands {
		if c[0] != "make" && c[0] != "export" {
			require.True(t, filepath.IsAbs(c[0]), "program %s in %q is an absolute path", c[0], strings.Join(c, " "))
		}
		for i, arg := range c {
			switch {
			case arg == "--file":
				require.True(t, filepath.IsAbs(c[i+1]), "--file %s is an absolute path", c[i+1])
				require.FileExists(t, c[i+1])
				sawFile = true
			case arg == "make":
				require.Equal(t, "-C", c[i+1], "make is told the repository: %q", strings.Join(c, " "))
				require.FileExists(t, filepath.Join(c[i+2], "Makefile"))
				sawMake++
			case strings.HasPrefix(arg, "GRAPHSIM_CA="):
				require.True(t, filepath.IsAbs(strings.TrimPrefix(arg, "GRAPHSIM_CA=")), arg)
			}
		}
	}
	require.True(t, sawFile, "a sample sends a file:\n%s", text)
	require.Equal(t, 2, sawMake, "demo-connect and demo-stop are printed with make -C:\n%s", text)
	require.Contains(t, text, "demo-connect NAME=bob")
}

// `demo connect bob` (make demo-connect NAME=bob) signs bob in to his Teams account through the plugin, from what
// the demo's start recorded: afterwards a Teams message to bob arrives as a bot DM.
func TestConnectCommandConnectsADemoUser(t *testing.T) {
	st := harness.StartStack(t, harness.Versions()[0])
	bob := st.NewPair(t, "bob", "Bob Brown")
	carol := st.Teams.AddUser(t, "carol", "Carol Clark")
	chat := st.Teams.Chat(t, "", carol, bob.Teams)

	dir := t.TempDir()
	caPath := filepath.Join(dir, "graphsim-ca.pem")
	require.NoError(t, os.WriteFile(caPath, st.Teams.Sim.CACertPEM(), 0o600))
	started := &demo{dir: dir, st: state{SiteURL: st.URL, CAPath: caPath,
		Users: map[string]demoUser{"bob": {Password: bob.MM.Password, TeamsUser: bob.Teams.ID}}}}
	started.save()

	// A separate run of the program, as `make demo-connect` is: it knows only the state directory.
	require.ErrorContains(t, (&demo{dir: dir}).connect("dave"), `no demo user "dave" (the demo has bob)`)
	require.NoError(t, (&demo{dir: dir}).connect("bob"))

	require.NotEmpty(t, st.WaitDirectPosts(bob.MM, st.Bot.Id, 1, 30*time.Second), "bob gets the welcome DM")
	st.Teams.Send(t, chat, graphsim.NewMessage{From: carol.ID, HTML: "<p>Hello Bob, from Teams</p>"})
	deadline := time.Now().Add(30 * time.Second)
	for {
		found := false
		for _, p := range st.DirectPosts(bob.MM, st.Bot.Id) {
			found = found || strings.Contains(p.Message, "Hello Bob, from Teams")
		}
		if found {
			break
		}
		require.False(t, time.Now().After(deadline), "no DM to bob with the Teams message within 30 s")
		time.Sleep(250 * time.Millisecond)
	}
}
