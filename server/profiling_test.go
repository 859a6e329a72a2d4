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

// startedProfiling is an activated plugin after startProfiling with profilingEnv set to addr.
func startedProfiling(t *testing.T, addr string) (*Plugin, *logAPI) {
	t.Setenv(profilingEnv, addr)
	api := &logAPI{}
	p := &Plugin{}
	p.API = api
	p.bgCtx, p.stopBg = context.WithCancel(context.Background())
	p.startProfiling()
	return p, api
}

func deactivate(p *Plugin) {
	p.stopBg()
	p.bg.Wait()
}

func TestTheProfileListenerLivesAsLongAsThePlugin(t *testing.T) {
	p, api := startedProfiling(t, "127.0.0.1:0")
	addr := api.value("address ")
	require.NotEmpty(t, addr, "the chosen address is logged: %v", api.lines)

	client := &http.Client{Timeout: 5 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}} // every request a new connection
	resp, err := client.Get("http://" + addr + "/debug/pprof/")
	require.NoError(t, err)
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Contains(t, string(body), "goroutine")

	deactivate(p)
	_, err = client.Get("http://" + addr + "/debug/pprof/")
	assert.Error(t, err, "nothing listens once the plugin is deactivated")
}

func TestWithoutALoopbackAddressNothingListens(t *testing.T) {
	for _, tc := range []struct {
		name, addr string
		want       []string // the log
	}{
		{"not asked", "", nil},
		{"every interface", "0.0.0.0:0", []string{"warn Not serving profiles. env " + profilingEnv +
			` error profile address "0.0.0.0:0" is not a loopback IP address`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p, api := startedProfiling(t, tc.addr)
			deactivate(p)
			assert.Equal(t, tc.want, api.lines)
		})
	}
}
