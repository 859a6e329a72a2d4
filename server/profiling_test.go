package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mattermost/mattermost/server/public/plugin"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestProfilesAreServedOnlyOnLoopbackAddresses(t *testing.T) {
	for _, tc := range []struct {
		addr string
		ok   bool
	}{
		{"127.0.0.1:0", true},
		{"127.0.0.2:0", true},
		{"0.0.0.0:0", false},       // every interface
		{":0", false},              // every interface, host left out
		{"localhost:0", false},     // a name, which could resolve anywhere
		{"192.0.2.10:6061", false}, // a routable address
		{"127.0.0.1", false},       // no port
	} {
		t.Run(tc.addr, func(t *testing.T) {
			ln, err := listenLoopback(tc.addr)
			if !tc.ok {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.NoError(t, ln.Close())
		})
	}
}

// logAPI is the plugin API as far as startProfiling uses it: the log.
type logAPI struct {
	plugin.API
	mu    sync.Mutex
	lines []string
}

func (a *logAPI) log(level, msg string, kv []any) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.lines = append(a.lines, strings.TrimSpace(fmt.Sprintln(append([]any{level, msg}, kv...)...)))
}
func (a *logAPI) LogInfo(msg string, kv ...any) { a.log("info", msg, kv) }
func (a *logAPI) LogWarn(msg string, kv ...any) { a.log("warn", msg, kv) }

func (a *logAPI) value(key string) string {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, l := range a.lines {
		if i := strings.Index(l, key); i >= 0 {
			return strings.Fields(l[i+len(key):])[0]
		}
	}
	return ""
}

func activeForProfiling(api *logAPI) *Plugin {
	p := &Plugin{}
	p.API = api
	p.bgCtx, p.stopBg = context.WithCancel(context.Background())
	return p
}

func TestTheProfileListenerLivesAsLongAsThePlugin(t *testing.T) {
	t.Setenv(profilingEnv, "127.0.0.1:0")
	api := &logAPI{}
	p := activeForProfiling(api)
	p.startProfiling()
	addr := api.value("address ")
	require.NotEmpty(t, addr, "the chosen address is logged: %v", api.lines)

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}} // every request a new connection
	resp, err := client.Get("http://" + addr + "/debug/pprof/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "goroutine")

	p.stopBg() // deactivation
	p.bg.Wait()
	_, err = client.Get("http://" + addr + "/debug/pprof/")
	assert.Error(t, err, "nothing listens once the plugin is deactivated")
}

func TestANonLoopbackProfileAddressIsRefusedWithAWarning(t *testing.T) {
	t.Setenv(profilingEnv, "0.0.0.0:0")
	api := &logAPI{}
	p := activeForProfiling(api)
	p.startProfiling()
	p.stopBg()
	p.bg.Wait()
	require.Len(t, api.lines, 1)
	assert.Contains(t, api.lines[0], "Not serving profiles")
	assert.Contains(t, api.lines[0], profilingEnv)
	assert.Contains(t, api.lines[0], "not a loopback IP address")
}

func TestNoProfileListenerUnlessAsked(t *testing.T) {
	t.Setenv(profilingEnv, "")
	api := &logAPI{}
	p := activeForProfiling(api)
	p.startProfiling()
	p.stopBg()
	p.bg.Wait()
	assert.Empty(t, api.lines)
}
