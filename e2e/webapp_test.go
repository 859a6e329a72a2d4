package e2e

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/teamsnotify/msteams-sync/e2e/harness"
)

// TestWebappInChromium loads the installed webapp bundle into headless Chromium (Debian's chromium, driven by
// playwright-core; webapp/test/browser) with every plugin call going to this real server: the settings tab for
// a disconnected and a connected user, Connect through graphsim's sign-in, the notifications preference, and
// the admin console's whitelist and reports. Screenshots land in webapp/test-artifacts/.
func TestWebappInChromium(t *testing.T) {
	st := harness.StartStack(t, newestVersion())
	// A user whose email is a Teams account on graphsim's account picker, not connected yet.
	user := st.NewPair(t, "wendy", "Wendy Webb")

	runBrowserTests(t, st.Server, "webapp browser tests", "npm run --silent test:browser",
		"E2E_MM_URL="+st.URL,
		"E2E_ADMIN_TOKEN="+st.Admin.AuthToken,
		"E2E_USER_TOKEN="+user.MM.Client.AuthToken,
	)
}

// runBrowserTests runs the shell command line in webapp/ (building what the browser tests need, then node --test
// on some of webapp/test/browser) with env added to this process's environment, for ten minutes at the most. When
// it fails, the test fails with its output and the problems in s's log; otherwise the output is logged and
// returned, for the caller to check. what names the tests in both.
func runBrowserTests(t *testing.T, s *harness.Server, what, line string, env ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", "-c", line)
	cmd.Dir = filepath.Join("..", "webapp")
	cmd.Env = append(os.Environ(), env...)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%s failed (%v):\n%s\n--- server log problems:\n%s", what, err, out, s.LogProblems(40))
	}
	t.Logf("%s:\n%s", what, out)
	return string(out)
}
