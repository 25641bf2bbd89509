//go:build !(linux || darwin || freebsd || openbsd || netbsd || dragonfly)

package rover

import "sync"

// fileLocks stands in for flock(2) where this package does not use it: it
// excludes the goroutines of this process only.
var fileLocks sync.Mutex

// lockFile takes the process-wide lock and returns its release; path is
// not used.
func lockFile(string) (unlock func(), err error) {
	fileLocks.Lock()
	return fileLocks.Unlock, nil
}
