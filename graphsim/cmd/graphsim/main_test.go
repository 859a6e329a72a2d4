package main

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/teamsnotify/msteams-sync/graphsim"
)

// cli runs the command line and returns its exit status, stdout and stderr.
func cli(args ...string) (int, string, string) {
	var out, errOut bytes.Buffer
	code := run(args, &out, &errOut)
	return code, out.String(), errOut.String()
}

// mustRun runs a client command that must succeed and returns what it printed.
func mustRun(t *testing.T, args ...string) string {
	t.Helper()
	code, out, errOut := cli(args...)
	require.Equal(t, 0, code, errOut)
	return out
}

// demoSim starts an HTTPS graphsim with the demo tenant and returns it with the
// --sim/--ca flags that reach it.
func demoSim(t *testing.T) (*graphsim.Sim, []string) {
	t.Helper()
	caPath := filepath.Join(t.TempDir(), "ca.pem")
	sim, err := graphsim.New(graphsim.Options{CACertPath: caPath, DisableThrottling: true})
	require.NoError(t, err)
	require.NoError(t, sim.LoadSeed(graphsim.DemoSeed()))
	require.NoError(t, sim.Start())
	t.Cleanup(func() { _ = sim.Close() })
	return sim, []string{"--sim", sim.BaseURL(), "--ca", caPath}
}

func TestHelpPrintsTheCommandsUsageAndExitsZero(t *testing.T) {
	for _, h := range []string{"--help", "-h", "-help", "help"} {
		code, out, _ := cli(h)
		assert.Equal(t, 0, code, h)
		assert.Contains(t, out, "usage: graphsim <command>", h)
		assert.Contains(t, out, "presence", h)
	}
	for name := range commands {
		for _, h := range []string{"--help", "-h"} {
			code, out, errOut := cli(name, h)
			assert.Equal(t, 0, code, "%s %s: %s", name, h, errOut)
			assert.True(t, strings.HasPrefix(out, "usage: graphsim "+name), "%s %s printed %q", name, h, out)
		}
	}
	_, out, _ := cli("send", "--help")
	for _, f := range []string{"-subject", "-importance", "-card", "-bot", "-json", "-file", "-image", "-sim", "-ca"} {
		assert.Contains(t, out, f)
	}
	assert.NotContains(t, out, "-availability", "send's help lists only send's flags")
	_, out, _ = cli("help", "react")
	assert.Contains(t, out, "usage: graphsim react")

	code, _, errOut := cli("send", "--bogus")
	assert.Equal(t, 2, code)
	assert.Contains(t, errOut, "graphsim send --help")
	code, _, _ = cli("nonsense")
	assert.Equal(t, 2, code)
	code, _, _ = cli()
	assert.Equal(t, 2, code)
}

func TestClientCommandsDriveARunningSim(t *testing.T) {
	_, common := demoSim(t)

	var users []graphsim.User
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, append([]string{"users"}, common...)...)), &users))
	assert.Len(t, users, 3)

	var sent struct{ ID string }
	out := mustRun(t, append([]string{"send"}, append(common, "--from", "alice@demo.test", "--chat", graphsim.DemoGroupChatID, "--mention", "bob@demo.test", `<p>hello <at id="0">Bob</at></p>`)...)...)
	require.NoError(t, json.Unmarshal([]byte(out), &sent))
	require.NotEmpty(t, sent.ID)

	mustRun(t, append([]string{"edit"}, append(common, "--chat", graphsim.DemoGroupChatID, "--id", sent.ID, "<p>hello again</p>")...)...)
	mustRun(t, append([]string{"react"}, append(common, "--chat", graphsim.DemoGroupChatID, "--id", sent.ID, "--user", "bob@demo.test")...)...)
	mustRun(t, append([]string{"presence"}, append(common, "--user", graphsim.DemoBobID, "--availability", "Busy")...)...)
	mustRun(t, append([]string{"delete"}, append(common, "--chat", graphsim.DemoGroupChatID, "--id", sent.ID)...)...)

	var chats []graphsim.ChatInfo
	require.NoError(t, json.Unmarshal([]byte(mustRun(t, append([]string{"chats"}, common...)...)), &chats))
	assert.Len(t, chats, 3)
}

// graphMessage sends with the CLI and reads the message back through Graph
// (GET /chats/{c}/messages/{m} with an app token), as the plugin would see it.
type graphReader struct {
	sim    *graphsim.Sim
	common []string
	token  string
}

func newGraphReader(t *testing.T) *graphReader {
	sim, common := demoSim(t)
	token := appToken(t, sim)
	require.NotEmpty(t, token)
	return &graphReader{sim: sim, common: common, token: token}
}

func (g *graphReader) get(t *testing.T, u string) []byte {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, u, nil)
	require.NoError(t, err)
	req.Header.Set("Authorization", "Bearer "+g.token)
	resp, err := g.sim.HTTPClient().Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode, string(b))
	return b
}

type readBack struct {
	Subject    *string
	Importance string
	Body       struct{ ContentType, Content string }
	From       struct {
		User        *struct{ ID string }
		Application *struct {
			ID, DisplayName, ApplicationIdentityType string
		}
	}
	Mentions []struct {
		ID          int
		MentionText string
		Mentioned   struct{ User struct{ ID string } }
	}
	Attachments []struct {
		ID, ContentType string
		ContentURL      *string
		Content         *string
		Name            *string
	}
}

// send runs "graphsim send" and returns the message as Graph serves it.
func (g *graphReader) send(t *testing.T, args ...string) readBack {
	t.Helper()
	out := mustRun(t, append(append([]string{"send"}, g.common...), append([]string{"--chat", graphsim.DemoGroupChatID}, args...)...)...)
	var sent struct{ ID string }
	require.NoError(t, json.Unmarshal([]byte(out), &sent))
	var m readBack
	require.NoError(t, json.Unmarshal(g.get(t, g.sim.GraphURL()+"/chats/"+url.PathEscape(graphsim.DemoGroupChatID)+"/messages/"+sent.ID), &m))
	return m
}

func writeFile(t *testing.T, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	require.NoError(t, os.WriteFile(p, b, 0o600))
	return p
}

// onePixelPNG is a valid 1×1 PNG.
var onePixelPNG, _ = base64.StdEncoding.DecodeString("iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg==")

func TestSendFlagsShowUpInTheGraphMessage(t *testing.T) {
	g := newGraphReader(t)
	card := `{"type":"AdaptiveCard","version":"1.4","body":[{"type":"TextBlock","text":"Deploy done"}]}`

	t.Run("subject and importance", func(t *testing.T) {
		m := g.send(t, "--from", "alice@demo.test", "--subject", "Release", "--importance", "urgent", "<p>now</p>")
		require.NotNil(t, m.Subject)
		assert.Equal(t, "Release", *m.Subject)
		assert.Equal(t, "urgent", m.Importance)
		m = g.send(t, "--from", "alice@demo.test", "--importance", "high", "<p>soon</p>")
		assert.Equal(t, "high", m.Importance)
		assert.Nil(t, m.Subject)
		code, _, errOut := cli(append(append([]string{"send"}, g.common...), "--chat", graphsim.DemoGroupChatID, "--from", "alice@demo.test", "--importance", "critical", "x")...)
		assert.Equal(t, 2, code)
		assert.Contains(t, errOut, "normal, high or urgent")
	})
	t.Run("adaptive card", func(t *testing.T) {
		m := g.send(t, "--from", "alice@demo.test", "--card", writeFile(t, "card.json", []byte(card)), "<p>see card</p>")
		require.Len(t, m.Attachments, 1)
		a := m.Attachments[0]
		assert.Equal(t, "application/vnd.microsoft.card.adaptive", a.ContentType)
		require.NotNil(t, a.Content)
		assert.JSONEq(t, card, *a.Content)
		assert.Contains(t, m.Body.Content, `<attachment id="`+a.ID+`"></attachment>`)
	})
	t.Run("file reference", func(t *testing.T) {
		m := g.send(t, "--from", "alice@demo.test", "--file", writeFile(t, "notes.txt", []byte("hello file")), "<p>file</p>")
		require.Len(t, m.Attachments, 1)
		a := m.Attachments[0]
		assert.Equal(t, "reference", a.ContentType)
		require.NotNil(t, a.Name)
		assert.Equal(t, "notes.txt", *a.Name)
		require.NotNil(t, a.ContentURL)
		resp, err := g.sim.HTTPClient().Get(*a.ContentURL)
		require.NoError(t, err)
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		assert.Equal(t, "hello file", string(b))
	})
	t.Run("hosted inline image", func(t *testing.T) {
		m := g.send(t, "--from", "alice@demo.test", "--image", writeFile(t, "dot.png", onePixelPNG), "<p>pic</p>")
		i := strings.Index(m.Body.Content, `src="`)
		require.GreaterOrEqual(t, i, 0, m.Body.Content)
		src := m.Body.Content[i+5:]
		src = src[:strings.Index(src, `"`)]
		assert.Contains(t, src, "/hostedContents/")
		assert.Equal(t, onePixelPNG, g.get(t, src))
	})
	t.Run("bot sender", func(t *testing.T) {
		m := g.send(t, "--bot", "28:b07-app", "--bot-name", "Build Bot", "<p>built</p>")
		assert.Nil(t, m.From.User)
		require.NotNil(t, m.From.Application)
		assert.Equal(t, "28:b07-app", m.From.Application.ID)
		assert.Equal(t, "Build Bot", m.From.Application.DisplayName)
		assert.Equal(t, "bot", m.From.Application.ApplicationIdentityType)
	})
	t.Run("whole message from Graph JSON", func(t *testing.T) {
		doc := map[string]any{
			"subject":    "From JSON",
			"importance": "high",
			"body":       map[string]any{"contentType": "html", "content": `<p>hi <at id="0">Bob</at></p><img src="../hostedContents/1/$value"><attachment id="c1"></attachment>`},
			"from":       map[string]any{"user": map[string]any{"id": graphsim.DemoAliceID}},
			"mentions": []any{map[string]any{"id": 0, "mentionText": "Bob",
				"mentioned": map[string]any{"user": map[string]any{"id": graphsim.DemoBobID, "userIdentityType": "aadUser"}}}},
			"attachments": []any{map[string]any{"id": "c1", "contentType": "application/vnd.microsoft.card.adaptive", "content": card}},
			"hostedContents": []any{map[string]any{"@microsoft.graph.temporaryId": "1", "contentType": "image/png",
				"contentBytes": base64.StdEncoding.EncodeToString(onePixelPNG)}},
		}
		b, err := json.Marshal(doc)
		require.NoError(t, err)
		m := g.send(t, "--json", writeFile(t, "msg.json", b))
		require.NotNil(t, m.Subject)
		assert.Equal(t, "From JSON", *m.Subject)
		assert.Equal(t, "high", m.Importance)
		require.NotNil(t, m.From.User)
		assert.Equal(t, graphsim.DemoAliceID, m.From.User.ID)
		require.Len(t, m.Mentions, 1)
		assert.Equal(t, graphsim.DemoBobID, m.Mentions[0].Mentioned.User.ID)
		require.Len(t, m.Attachments, 1)
		assert.Equal(t, "c1", m.Attachments[0].ID)
		assert.NotContains(t, m.Body.Content, "../hostedContents")
		i := strings.Index(m.Body.Content, `src="`)
		require.GreaterOrEqual(t, i, 0)
		src := m.Body.Content[i+5:]
		assert.Equal(t, onePixelPNG, g.get(t, src[:strings.Index(src, `"`)]))

		// Flags given with --json override the file.
		m = g.send(t, "--json", writeFile(t, "msg2.json", b), "--bot", "28:other", "--subject", "Override")
		assert.Equal(t, "Override", *m.Subject)
		assert.Nil(t, m.From.User)
		assert.Equal(t, "28:other", m.From.Application.ID)
	})
}
