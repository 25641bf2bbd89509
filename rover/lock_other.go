//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package rover

import "sync"

var (
	heldMu sync.Mutex
	held   = map[string]bool{}
)

// tryLockFile stands in for a non-blocking flock(2): it excludes the
// goroutines of this process only.
func tryLockFile(path string) (unlock func(), busy bool, err error) {
	heldMu.Lock()
	defer heldMu.Unlock()
	if held[path] {
		return nil, true, nil
	}
	held[path] = true
	return func() { heldMu.Lock(); delete(held, path); heldMu.Unlock() }, false, nil
}

// fileLocks stands in for flock(2) where this package does not use it: it
// excludes the goroutines of this process only.
var fileLocks sync.Mutex

// lockFile takes the process-wide lock and returns its release; path is
// not used.
func lockFile(string) (unlock func(), err error) {
	fileLocks.Lock()
	return fileLocks.Unlock, nil
}
