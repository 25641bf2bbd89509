package main

import (
	"context"

	"github.com/ufo-run/ufo/app/web"
)

// mounters are the adapters the bench's server mounts.
func (b *bench) mounters() []web.Mounter { return nil }

// webhook reports that GitHub deliveries cannot be measured without the
// GitHub adapter.
func (b *bench) webhook(context.Context) ([]Figure, error) {
	return []Figure{{Figure: "webhook", Name: "5 webhook acknowledgement p99", Unit: "ms", Target: "< 20 ms",
		Status: StatusNotMeasured, Note: "not measured: GitHub adapter absent"}}, nil
}
