package bench

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDSNPort(t *testing.T) {
	tests := []struct{ dsn, want string }{
		{"postgres://postgres@127.0.0.1:41234/mm_e2e_1?sslmode=disable", "41234"},
		{"postgres://user:pw@127.0.0.1:5432/db", "5432"},
		{"postgres://postgres@localhost/db", "5432"},
	}
	for _, tc := range tests {
		assert.Equal(t, tc.want, dsnPort(tc.dsn), tc.dsn)
	}
}

func TestRestartingTheSharedClusterIsRefused(t *testing.T) {
	_, err := clusterDataDir("5432")
	require.Error(t, err)
	assert.Contains(t, err.Error(), "E2E_PG=private")
}
