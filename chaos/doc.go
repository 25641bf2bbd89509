// Package chaos is UFO's survival test (issue 8): three `ufo server`
// processes on one PostgreSQL behind a loopback load balancer, rover
// processes running an exec pilot, operations created through the API,
// while the test SIGKILLs rovers and servers, restarts PostgreSQL, and
// plays a rover that lost its lease. At the end it checks the invariants of
// DESIGN.md §3 in the database: every run in exactly one terminal state,
// every operation in review or failed with lease_lost after at most three
// attempts, run events contiguous, no stale claim token accepted, no
// operation lost or doubled.
//
// The package holds only the test. `go test ./chaos` runs a short form (a
// few rovers, dozens of operations, well under two minutes);
// UFO_CHAOS=full runs the form (ten rovers, 500 operations; make
// chaos).
package chaos
