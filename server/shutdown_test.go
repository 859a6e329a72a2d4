package main

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// A shutdown step that hangs does not hold up the plugin's exit past the deadline; one that finishes is
// reported as done.
func TestFinishByGivesUpAtTheDeadline(t *testing.T) {
	require.True(t, finishBy(time.Now().Add(time.Second), func() {}))

	release := make(chan struct{})
	defer close(release)
	began := time.Now()
	require.False(t, finishBy(time.Now().Add(100*time.Millisecond), func() { <-release }))
	require.Less(t, time.Since(began), time.Second)
}
