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

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "run", "--silent", "test:browser")
	cmd.Dir = filepath.Join("..", "webapp")
	cmd.Env = append(os.Environ(),
		"E2E_MM_URL="+st.URL,
		"E2E_ADMIN_TOKEN="+st.Admin.AuthToken,
		"E2E_USER_TOKEN="+user.MM.Client.AuthToken,
	)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("webapp browser tests failed (%v):\n%s\n--- server log problems:\n%s", err, out, st.LogProblems(40))
	}
	t.Logf("webapp browser tests:\n%s", out)
}
