//go:build !linux

package auditspool

import "os"

// ownerProblem is not checked outside Linux: the package compiles there,
// but only Linux is tested. The mode and symlink checks still apply.
func ownerProblem(os.FileInfo) (reason, fix string) { return "", "" }

// lockDir is a no-op outside Linux: the caller must not open a directory
// twice.
func lockDir(*os.File) error { return nil }
