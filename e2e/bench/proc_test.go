package bench

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestReadProcOfThisProcess(t *testing.T) {
	st, err := ReadProc(os.Getpid())
	require.NoError(t, err)
	assert.Greater(t, st.RSSBytes, int64(1<<20), "a Go test binary holds more than a MiB")
	assert.GreaterOrEqual(t, st.CPUSeconds, 0.0)
}

func TestFindProcessMatchesOnlyExecutablesUnderDir(t *testing.T) {
	dir := t.TempDir()
	sleep, err := exec.LookPath("sleep")
	require.NoError(t, err)
	data, err := os.ReadFile(sleep)
	require.NoError(t, err)
	exe := filepath.Join(dir, "plugins", "x", "plugin-linux-amd64")
	require.NoError(t, os.MkdirAll(filepath.Dir(exe), 0o755))
	require.NoError(t, os.WriteFile(exe, data, 0o755))

	_, err = FindProcess(dir)
	assert.Error(t, err, "nothing runs there yet")

	cmd := exec.Command(exe, "30")
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })

	pid, err := FindProcess(dir)
	require.NoError(t, err)
	assert.Equal(t, cmd.Process.Pid, pid)
	_, err = FindProcess(t.TempDir())
	assert.Error(t, err, "another run directory does not match")

	s := &ProcSampler{Dir: dir}
	s.Sample()
	assert.Equal(t, cmd.Process.Pid, s.Current().PID)
	assert.Greater(t, s.PeakRSSMB(), 0.0)
}
