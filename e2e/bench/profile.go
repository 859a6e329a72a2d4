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

// ServerProfile saves a CPU profile of the Mattermost server (its metrics listener serves net/http/pprof even
// without a license) taken over d. The plugin process exposes no pprof endpoint; its CPU and RSS come from /proc.
func ServerProfile(ctx context.Context, metricsURL string, d time.Duration, path string) error {
	url := strings.TrimRight(metricsURL, "/") + "/debug/pprof/profile?seconds=" + strconv.Itoa(int(d.Seconds()))
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return errors.Wrap(err, "build profile request")
	}
	resp, err := (&http.Client{Timeout: d + 30*time.Second}).Do(req)
	if err != nil {
		return errors.Wrap(err, "fetch server CPU profile")
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.Errorf("server CPU profile: %s", resp.Status)
	}
	f, err := os.Create(path)
	if err != nil {
		return errors.Wrap(err, "create profile file")
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return errors.Wrap(err, "save server CPU profile")
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
