//go:build !linux

package auditspool

import "os"

// ownerProblem is not checked outside Linux: the package compiles there,
// but only Linux is tested. The mode and symlink checks still apply (on
// Windows, where Go reports every directory as mode 0777, the mode check
// refuses every directory: the package is not supported there).
func ownerProblem(os.FileInfo) (reason, fix string) { return "", "" }

// lockDir is a no-op outside Linux: the caller must not open a directory
// twice.
func lockDir(*os.File) error { return nil }
