//go:build !linux && !darwin

package rover

// diskFreeMB is not measured on this system.
func diskFreeMB(string) int64 { return 0 }
