package harness

// T is what the harness needs from its caller: *testing.T and *testing.B satisfy it, and so does a small
// adapter in a program (the demo) that logs, exits on Fatalf and runs cleanups on its own terms.
type T interface {
	Helper()
	Logf(format string, args ...any)
	Fatal(args ...any)
	Fatalf(format string, args ...any)
	Cleanup(func())
	Failed() bool
	TempDir() string
}
