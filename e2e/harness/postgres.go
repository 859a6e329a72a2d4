package harness

import (
	"context"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/pkg/errors"
)

// DefaultPostgresDSN is the shared PostgreSQL server the tests prefer when MSTEAMS_TEST_PG is unset.
const DefaultPostgresDSN = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"

// NewDatabase returns the DSN of an empty database that lives as long as the test. It creates a fresh database
// on the server named by MSTEAMS_TEST_PG (default DefaultPostgresDSN) when that server answers, and otherwise
// starts a private PostgreSQL cluster in a temporary directory. E2E_PG=private forces the private cluster.
func NewDatabase(t T) string {
	t.Helper()
	if os.Getenv("E2E_PG") != "private" {
		admin := os.Getenv("MSTEAMS_TEST_PG")
		if admin == "" {
			admin = DefaultPostgresDSN
		}
		dsn, err := createDatabase(t, admin)
		if err == nil {
			return dsn
		}
		t.Logf("shared PostgreSQL unusable (%v); starting a private cluster", redactErr(err, admin))
	}
	cluster := StartPrivateCluster(t)
	dsn, err := createDatabase(t, cluster)
	if err != nil {
		t.Fatalf("create database in private cluster: %v", err)
	}
	return dsn
}

// createDatabase creates a uniquely named database on the server adminDSN points at and drops it when the
// test ends. The drop uses WITH (FORCE) because a stopped Mattermost may leave idle connections behind briefly.
func createDatabase(t T, adminDSN string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, adminDSN)
	if err != nil {
		return "", errors.Wrap(err, "connect to PostgreSQL")
	}
	defer conn.Close(context.Background())

	name := fmt.Sprintf("mm_e2e_%d_%d", time.Now().UnixNano(), os.Getpid())
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{name}.Sanitize()); err != nil {
		return "", errors.Wrap(err, "create database")
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, adminDSN)
		if err != nil {
			t.Logf("drop database %s: %v", name, redactErr(err, adminDSN))
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+pgx.Identifier{name}.Sanitize()+" WITH (FORCE)"); err != nil {
			t.Logf("drop database %s: %v", name, err)
		}
	})

	u, err := url.Parse(adminDSN)
	if err != nil {
		return "", errors.Wrap(err, "parse PostgreSQL DSN")
	}
	u.Path = "/" + name
	return u.String(), nil
}

// StartPrivateCluster initialises and starts a throw-away PostgreSQL cluster (durability off: it only has to
// outlive one test) on a free loopback port and returns a DSN for its postgres superuser. The cluster is stopped
// and deleted when the test ends. initdb refuses to run as root, so when the tests run as root the cluster
// belongs to the postgres system user.
func StartPrivateCluster(t T) string {
	t.Helper()
	dir, err := os.MkdirTemp("", "mm-e2e-pg-")
	if err != nil {
		t.Fatalf("private PostgreSQL cluster: %v", err)
	}
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	port, err := FreePort()
	if err != nil {
		t.Fatalf("private PostgreSQL cluster: %v", err)
	}
	dsn, err := StartCluster(dir, port)
	if err != nil {
		t.Fatalf("private PostgreSQL cluster: %v", err)
	}
	t.Cleanup(func() {
		if err := StopCluster(dir); err != nil {
			t.Logf("stop private PostgreSQL cluster: %v", err)
		}
	})
	return dsn
}

// StartCluster creates a PostgreSQL cluster in dir (which must exist; data in dir/data, log in
// dir/postgres.log, socket in dir), starts it on 127.0.0.1:port and returns its superuser DSN. StopCluster
// stops it; removing dir deletes it.
func StartCluster(dir string, port int) (string, error) {
	bin, err := postgresBinDir()
	if err != nil {
		return "", err
	}
	// The postgres user must be able to reach the data directory through its parent.
	if err := os.Chmod(dir, 0o755); err != nil {
		return "", errors.Wrap(err, "cluster directory")
	}
	data := filepath.Join(dir, "data")
	if err := os.Mkdir(data, 0o700); err != nil {
		return "", errors.Wrap(err, "cluster directory")
	}
	runAs, err := clusterOwner(dir)
	if err != nil {
		return "", err
	}
	if err := runPG(runAs, filepath.Join(bin, "initdb"), "-D", data, "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8", "--locale=C"); err != nil {
		return "", err
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off", port, dir)
	// E2E_PG_OPTS adds server options, e.g. "-c shared_preload_libraries=pg_stat_statements" to see which
	// statements cost the database its CPU during a bench.
	if extra := os.Getenv("E2E_PG_OPTS"); extra != "" {
		opts += " " + extra
	}
	if err := runPG(runAs, filepath.Join(bin, "pg_ctl"), "-D", data, "-l", filepath.Join(dir, "postgres.log"), "-o", opts, "-w", "-t", "60", "start"); err != nil {
		return "", err
	}
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), nil
}

// StopCluster stops the cluster StartCluster started in dir (immediate mode: nothing in it needs to survive).
func StopCluster(dir string) error {
	bin, err := postgresBinDir()
	if err != nil {
		return err
	}
	runAs := ""
	if os.Geteuid() == 0 {
		runAs = "postgres"
	}
	return runPG(runAs, filepath.Join(bin, "pg_ctl"), "-D", filepath.Join(dir, "data"), "-m", "immediate", "-w", "stop")
}

func runPG(runAs string, args ...string) error {
	cmd := exec.Command(args[0], args[1:]...)
	if runAs != "" {
		cmd = exec.Command("runuser", append([]string{"-u", runAs, "--"}, args...)...)
	}
	out, err := cmd.CombinedOutput()
	if err != nil {
		return errors.Wrapf(err, "%s: %s", filepath.Base(args[0]), strings.TrimSpace(string(out)))
	}
	return nil
}

// clusterOwner returns the user to run the PostgreSQL tools as ("" for the current user) and hands dir to it.
func clusterOwner(dir string) (string, error) {
	if os.Geteuid() != 0 {
		return "", nil
	}
	pg, err := user.Lookup("postgres")
	if err != nil {
		return "", errors.Wrap(err, "running as root needs the postgres system user")
	}
	uid, _ := strconv.Atoi(pg.Uid)
	gid, _ := strconv.Atoi(pg.Gid)
	err = filepath.Walk(dir, func(path string, _ os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Chown(path, uid, gid)
	})
	return "postgres", errors.Wrap(err, "hand the cluster directory to postgres")
}

// postgresBinDir finds the server binaries: E2E_PG_BIN, else the newest Debian /usr/lib/postgresql/<major>/bin.
func postgresBinDir() (string, error) {
	if dir := os.Getenv("E2E_PG_BIN"); dir != "" {
		return dir, nil
	}
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	sort.Slice(dirs, func(i, j int) bool { return majorOf(dirs[i]) > majorOf(dirs[j]) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "initdb")); err == nil {
			return d, nil
		}
	}
	return "", errors.New("no PostgreSQL server binaries under /usr/lib/postgresql (install Debian's postgresql or set E2E_PG_BIN)")
}

func majorOf(binDir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(binDir)))
	return n
}

// FreePort returns a loopback TCP port that was free a moment ago.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, errors.Wrap(err, "find a free port")
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// redactErr keeps a DSN's password out of test output.
func redactErr(err error, dsn string) string {
	msg := err.Error()
	if u, perr := url.Parse(dsn); perr == nil && u.User != nil {
		if pw, ok := u.User.Password(); ok && pw != "" {
			msg = strings.ReplaceAll(msg, pw, "xxxxx")
		}
	}
	return msg
}
