package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"time"

	"github.com/mattermost/mattermost/server/public/model"
	"github.com/pkg/errors"

	"github.com/teamsnotify/msteams-sync/e2e/harness"
)

// Baseline is what the Mattermost server alone does on this machine: a probe plugin (internal/dmprobe) creates
// bot DMs shaped like the plugin's as fast as the server takes them, with as many goroutines as the plugin
// has delivery workers. Plugin figures are read against it, measured in the same run.
type Baseline struct {
	DMs          int64   `json:"dms"`
	Workers      int     `json:"workers"`
	Seconds      float64 `json:"seconds"`
	PerS         float64 `json:"dms_per_s"`
	ServerCPUSec float64 `json:"server_cpu_s"`
	// MachineCPUSec is the CPU time the whole machine spent meanwhile (server, database, kernel), so that
	// MachineCPUSec/DMs is the machine's cost of one DM without the plugin.
	MachineCPUSec float64 `json:"machine_cpu_s"`
}

const dmprobeID = "e2e.dmprobe"

// DeliveryWorkers is the plugin's number of delivery workers (server/pipeline.go, changeWorkers): the
// baseline posts with as many goroutines.
const DeliveryWorkers = 32

// ServerBaseline installs the probe, has it create n DMs to the bench users from workers goroutines, and
// disables it again.
func (e *Env) ServerBaseline(ctx context.Context, t harness.T, n, workers int) (Baseline, error) {
	s := e.Stack.Server
	bundle := harness.BuildPluginBundle(t, "./internal/dmprobe", &model.Manifest{Id: dmprobeID, Name: "DM probe", Version: "0.0.1"})
	s.InstallPlugin(bundle)
	defer func() { _, _ = s.Admin.DisablePlugin(context.Background(), dmprobeID) }()

	users := make([]string, len(e.People))
	for i, p := range e.People {
		users[i] = p.MMID
	}
	body, err := json.Marshal(map[string]any{"users": users, "count": n, "workers": workers})
	if err != nil {
		return Baseline{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/plugins/"+dmprobeID+"/dms", bytes.NewReader(body))
	if err != nil {
		return Baseline{}, err
	}
	req.Header.Set("Authorization", "Bearer "+s.Admin.AuthToken)
	serverCPU0, _ := ReadProc(s.PID())
	machine0 := MachineCPUSeconds()
	resp, err := (&http.Client{Timeout: 10 * time.Minute}).Do(req)
	if err != nil {
		return Baseline{}, errors.Wrap(err, "run the DM probe")
	}
	defer resp.Body.Close()
	var got struct {
		Created, Failed int64
		Seconds         float64
		Error           string
	}
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		return Baseline{}, errors.Wrapf(err, "read the DM probe's answer (%s)", resp.Status)
	}
	if got.Error != "" || got.Failed > 0 {
		return Baseline{}, errors.Errorf("DM probe: %d failed: %s", got.Failed, got.Error)
	}
	serverCPU1, _ := ReadProc(s.PID())
	b := Baseline{DMs: got.Created, Workers: workers, Seconds: got.Seconds, ServerCPUSec: serverCPU1.CPUSeconds - serverCPU0.CPUSeconds,
		MachineCPUSec: MachineCPUSeconds() - machine0}
	if got.Seconds > 0 {
		b.PerS = float64(got.Created) / got.Seconds
	}
	return b, nil
}
