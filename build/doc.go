// Package build holds the checks on the installable bundle that `make dist` produces.
package build
