package inbox

// StopRequested is closed once Stop has been called: tests use it to finish a job only after the Runner has
// been told to stop.
func StopRequested(r *Runner) <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.stop
}
