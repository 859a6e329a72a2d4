package bench

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pkg/errors"
)

// clockTicks is USER_HZ, which is 100 on every Linux architecture Go supports.
const clockTicks = 100

// ProcStat is what /proc says about one process.
type ProcStat struct {
	PID        int
	RSSBytes   int64
	CPUSeconds float64 // user + system
}

// ReadProc reads the resident set size and CPU time of a process.
func ReadProc(pid int) (ProcStat, error) {
	st := ProcStat{PID: pid}
	status, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/status")
	if err != nil {
		return st, errors.Wrap(err, "read process status")
	}
	for _, line := range strings.Split(string(status), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			f := strings.Fields(rest)
			if len(f) > 0 {
				kb, _ := strconv.ParseInt(f[0], 10, 64)
				st.RSSBytes = kb * 1024
			}
		}
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return st, errors.Wrap(err, "read process stat")
	}
	// The command name (field 2) may contain spaces and parentheses: fields are counted after the last ')'.
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return st, errors.New("short /proc stat line")
	}
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	st.CPUSeconds = float64(utime+stime) / clockTicks
	return st, nil
}

// FindProcess returns the pid of the newest process whose executable lies under dir (the plugin's executable
// under a server's run directory is unique to that server, so other servers on the machine do not match).
func FindProcess(dir string) (int, error) {
	dir, _ = filepath.Abs(dir)
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0, errors.Wrap(err, "list processes")
	}
	best, bestStart := 0, int64(-1)
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		exe, err := os.Readlink("/proc/" + e.Name() + "/exe")
		if err != nil || !strings.HasPrefix(exe, dir+string(filepath.Separator)) {
			continue
		}
		if start := startTime(pid); start > bestStart {
			best, bestStart = pid, start
		}
	}
	if best == 0 {
		return 0, errors.Errorf("no process runs an executable under %s", dir)
	}
	return best, nil
}

func startTime(pid int) int64 {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return -1
	}
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 20 {
		return -1
	}
	v, _ := strconv.ParseInt(f[19], 10, 64)
	return v
}

// ProcSampler follows the plugin process (found again after a restart) and keeps its peak RSS and the CPU
// seconds it used, summed over restarts.
type ProcSampler struct {
	Dir string

	mu       sync.Mutex
	peakRSS  int64
	cpuDone  float64 // CPU of processes that have exited
	last     ProcStat
	restarts int
	stop     chan struct{}
	done     chan struct{}
}

// Start samples every interval until Stop.
func (p *ProcSampler) Start(interval time.Duration) {
	p.stop, p.done = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(p.done)
		tick := time.NewTicker(interval)
		defer tick.Stop()
		for {
			p.Sample()
			select {
			case <-p.stop:
				return
			case <-tick.C:
			}
		}
	}()
}

// Stop ends sampling after one last sample.
func (p *ProcSampler) Stop() {
	close(p.stop)
	<-p.done
	p.Sample()
}

// Sample takes one reading.
func (p *ProcSampler) Sample() {
	pid, err := FindProcess(p.Dir)
	if err != nil {
		return
	}
	st, err := ReadProc(pid)
	if err != nil {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.last.PID != 0 && p.last.PID != pid {
		p.cpuDone += p.last.CPUSeconds
		p.restarts++
	}
	p.last = st
	p.peakRSS = max(p.peakRSS, st.RSSBytes)
}

// ResetPeak starts a new peak-RSS window (CPU keeps accumulating; take differences of CPUSeconds).
func (p *ProcSampler) ResetPeak() {
	p.mu.Lock()
	p.peakRSS = p.last.RSSBytes
	p.mu.Unlock()
}

// PeakRSSMB is the highest resident set size seen, in MiB.
func (p *ProcSampler) PeakRSSMB() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return float64(p.peakRSS) / (1 << 20)
}

// CPUSeconds is the CPU time used by every plugin process seen so far.
func (p *ProcSampler) CPUSeconds() float64 {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.cpuDone + p.last.CPUSeconds
}

// Current is the last reading.
func (p *ProcSampler) Current() ProcStat {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.last
}

// Restarts counts how often the plugin process was seen replaced.
func (p *ProcSampler) Restarts() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.restarts
}

// MachineCPUSeconds is the CPU time the whole machine has spent busy since boot (user, nice, system, irq,
// softirq, steal; not idle or iowait), summed over CPUs.
func MachineCPUSeconds() float64 {
	b, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0
	}
	line, _, _ := strings.Cut(string(b), "\n")
	f := strings.Fields(line)
	busy := 0.0
	for i, v := range f {
		if i == 0 || i == 4 || i == 5 || i > 8 { // the "cpu" label, idle, iowait; guest time is inside user
			continue
		}
		n, _ := strconv.ParseFloat(v, 64)
		busy += n
	}
	return busy / clockTicks
}
