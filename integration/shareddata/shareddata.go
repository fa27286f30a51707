// Package shareddata locates the reference data that sits beside the
// repository in a folder named shared: recorded ARI traces and real webhook
// payloads. Tests that use it skip, rather than fail, when it is missing.
package shareddata

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// Dir returns the path of shared/<name> beside the repository root, or
// skips the test when that folder does not exist.
func Dir(tb testing.TB, name string) string {
	tb.Helper()
	root, err := RepoRoot()
	if err != nil {
		tb.Skipf("shared data %s: %v", name, err)
	}
	dir := filepath.Join(filepath.Dir(root), "shared", name)
	if info, err := os.Stat(dir); err != nil || !info.IsDir() {
		tb.Skipf("shared data folder %s not found; skipping", dir)
	}
	return dir
}

// RepoRoot walks up from the working directory to the folder that contains
// go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find repository root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("go.mod not found above the working directory; run from inside the repository: %w", os.ErrNotExist)
		}
		dir = parent
	}
}
