package main

import (
	"context"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"time"

	"github.com/pkg/errors"
)

// profilingEnv names a loopback address on which the plugin process serves net/http/pprof, for measuring it
// under load (make bench sets it). Plugins inherit the Mattermost server's environment, so it is set where the
// server starts. Unset in production: the listener exists only when asked for.
const profilingEnv = "MSTEAMS_PPROF_ADDR"

// startProfiling serves pprof on the address in profilingEnv, if any, until the plugin deactivates. Only
// loopback addresses are accepted: profiles show code paths and timings, never meant for the network.
func (p *Plugin) startProfiling() {
	addr := os.Getenv(profilingEnv)
	if addr == "" {
		return
	}
	ln, err := listenLoopback(addr)
	if err != nil {
		p.API.LogWarn("Not serving profiles.", "env", profilingEnv, "error", err.Error())
		return
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/debug/pprof/", pprof.Index)
	mux.HandleFunc("/debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("/debug/pprof/trace", pprof.Trace)
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	p.API.LogInfo("Serving Go profiles for measurement.", "address", ln.Addr().String())
	p.runBackground(func(ctx context.Context) {
		go func() {
			<-ctx.Done()
			shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			_ = srv.Shutdown(shutdownCtx)
		}()
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			p.API.LogWarn("The profile listener stopped.", "error", err.Error())
		}
	})
}

func listenLoopback(addr string) (net.Listener, error) {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, errors.Wrap(err, "parse the profile address")
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return nil, errors.Errorf("profile address %q is not a loopback IP address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	return ln, errors.Wrap(err, "listen for profile requests")
}
