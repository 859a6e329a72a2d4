package bench

import (
	"context"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/pkg/errors"
)

// PluginProfileAddr is where the plugin process serves net/http/pprof during the bench: the plugin opens it
// when MSTEAMS_PPROF_ADDR is in the server's environment, which its plugin processes inherit.
const PluginProfileAddr = "127.0.0.1:6061"

// CPUProfile saves a CPU profile taken over d from a net/http/pprof endpoint at baseURL: the Mattermost
// server's metrics listener (it serves pprof even without a license) or the plugin's PluginProfileAddr.
func CPUProfile(ctx context.Context, baseURL string, d time.Duration, path string) error {
	url := strings.TrimRight(baseURL, "/") + "/debug/pprof/profile?seconds=" + strconv.Itoa(int(d.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return errors.Wrap(err, "build profile request")
	}
	resp, err := (&http.Client{Timeout: d + 30*time.Second}).Do(req)
	if err != nil {
		return errors.Wrap(err, "fetch CPU profile")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.Errorf("CPU profile from %s: %s", baseURL, resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return errors.Wrap(err, "create profile file")
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return errors.Wrap(err, "save CPU profile")
}

// ParentCPUSeconds is the CPU time of the plugin process's parent, the Mattermost server.
func ParentCPUSeconds(pid int) (float64, error) {
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return 0, errors.Wrap(err, "read process status")
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "PPid:"); ok {
			ppid, _ := strconv.Atoi(strings.TrimSpace(rest))
			st, err := ReadProc(ppid)
			return st.CPUSeconds, err
		}
	}
	return 0, errors.New("no PPid in process status")
}
