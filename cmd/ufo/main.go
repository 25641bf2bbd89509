// Command ufo is the single UFO binary: the server, the rover and the admin
// commands. main only wires: a context cancelled on SIGINT/SIGTERM, then the
// cobra command tree.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	err := newRootCmd().ExecuteContext(ctx)
	stop()
	if err != nil {
		var ec exitCode
		if asExitCode(err, &ec) {
			os.Exit(int(ec))
		}
		fmt.Fprintln(os.Stderr, "ufo:", err)
		os.Exit(1)
	}
}
