//go:build race

package chaos

// raceEnabled: the test runs under the race detector, so the ufo binary it
// builds does too, and a race in a server or rover fails the test.
const raceEnabled = true
