package store

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store/pgtest"
)

// FindPilot finds a pilot by name or by id; a name wins over an id, even
// when the name is another pilot's id; other fleets' pilots are not found.
func TestFindPilotByNameOrID(t *testing.T) {
	ctx := context.Background()
	s := open(t, pgtest.NewDB(t))
	fleet := newFleet(t, s)
	mk := func(fleet, name string) app.Pilot {
		t.Helper()
		p, err := s.CreatePilot(ctx, app.Pilot{FleetID: fleet, Name: name, Kind: app.KindExec, Settings: json.RawMessage(`{"command":"true"}`)})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	a := mk(fleet, "alpha")
	b := mk(fleet, a.ID) // named as alpha's id
	_, other, _, err := s.SignUp(ctx, "bob@example.com", "Bob", "x", "Other")
	if err != nil {
		t.Fatal(err)
	}
	c := mk(other.ID, "gamma")

	for _, tc := range []struct {
		in, want string
	}{
		{"alpha", a.ID},
		{b.ID, b.ID},
		{a.ID, b.ID}, // the name wins
		{"gamma", ""},
		{c.ID, ""},
		{"not-a-uuid", ""},
		{"00000000-0000-0000-0000-000000000000", ""},
	} {
		p, err := s.FindPilot(ctx, fleet, tc.in)
		switch {
		case tc.want == "" && !app.IsCode(err, app.ENotFound):
			t.Errorf("FindPilot(%q): %+v, %v; want not found", tc.in, p, err)
		case tc.want != "" && (err != nil || p.ID != tc.want):
			t.Errorf("FindPilot(%q): %s, %v; want %s", tc.in, p.ID, err, tc.want)
		}
	}
}
