//go:build linux || darwin

package rover

import "syscall"

// diskFreeMB is the space available to this user in the file system that
// holds dir, 0 when it cannot be read.
func diskFreeMB(dir string) int64 {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return 0
	}
	return int64(uint64(st.Bavail) * uint64(st.Bsize) >> 20)
}
