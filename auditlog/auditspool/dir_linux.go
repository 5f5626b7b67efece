//go:build linux

package auditspool

import (
	"errors"
	"fmt"
	"os"
	"syscall"
)

// ownerProblem returns why fi, the spool directory, is not owned by the
// process's effective user, or "".
func ownerProblem(fi os.FileInfo) (reason, fix string) {
	st, ok := fi.Sys().(*syscall.Stat_t)
	if !ok {
		return "", ""
	}
	if euid := os.Geteuid(); int(st.Uid) != euid {
		return fmt.Sprintf("owned by uid %d, not by this process's effective uid %d", st.Uid, euid),
			fmt.Sprintf("chown it to uid %d, or use a directory this user created", euid)
	}
	return "", ""
}

// lockDir takes an exclusive, non-blocking flock on f, the spool's lock
// file. The lock is released when f is closed.
func lockDir(f *os.File) error {
	err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
	if errors.Is(err, syscall.EWOULDBLOCK) {
		return fmt.Errorf("%w: %s is locked by another Spool; close it first (one Spool per directory)", ErrLocked, f.Name())
	}
	return err
}
