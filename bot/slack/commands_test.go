package slack_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/ufo-run/ufo/rover/wire"
)

func wantText(t *testing.T, what, got string, want ...string) {
	t.Helper()
	for _, w := range want {
		if !strings.Contains(got, w) {
			t.Fatalf("%s: %q lacks %q", what, got, w)
		}
	}
}

// TestLinkFlow: link codes are for admins, single use, expire, and link a
// workspace to one fleet; the person who types one becomes its maker.
func TestLinkFlow(t *testing.T) {
	t.Parallel()
	e := newEnv(t)

	// Before linking, only help and link work.
	wantText(t, "list before linking", e.slash("U0ADA", "C0DEV", "list").Text, "not linked to a UFO fleet")
	wantText(t, "help before linking", e.slash("U0ADA", "C0DEV", "help").Text, "/ufo new [KEY] <title>")

	// Codes: admins only, of their own fleet.
	member := e.web.Client()
	member.Call("POST", "/api/auth/signup", map[string]string{"email": "bob@example.com", "password": "P@ssw0rd!", "name": "Bob"}, 201, nil)
	member.Call("POST", "/api/slack/link-codes?fleet="+e.fleet, nil, 404, nil)
	var inv struct{ Token string }
	e.admin.Call("POST", "/api/invitations?fleet="+e.fleet, `{"email":"bob@example.com","role":"member"}`, 201, &inv)
	member.Call("POST", "/api/invitations/"+inv.Token+"/accept", nil, 200, nil)
	member.Call("POST", "/api/slack/link-codes?fleet="+e.fleet, nil, 403, nil)
	e.web.Client().Call("POST", "/api/slack/link-codes?fleet="+e.fleet, nil, 401, nil)

	wantText(t, "an unknown code", e.slash("U0ADA", "C0DEV", "link ufol_nope").Text, "Link code not found")
	expired := e.linkCode()
	e.st.Pool().Exec(context.Background(), `UPDATE slack_link_codes SET expires_at = now() - interval '1 second' WHERE used_at IS NULL`)
	wantText(t, "an expired code", e.slash("U0ADA", "C0DEV", "link "+expired).Text, "Link code not found")

	code := e.linkCode()
	wantText(t, "link", e.slash("U0ADA", "C0DEV", "link "+code).Text, "Linked this workspace to the fleet *Ada's fleet*.", "You are *Ada* in *Ada's fleet* now.")
	wantText(t, "the same code again", e.slash("U0OTHER", "C0DEV", "link "+code).Text, "Link code not found")
	if n := e.count(`SELECT count(*) FROM slack_link_codes WHERE code_hash = sha256($1::text::bytea)`, code); n != 1 {
		t.Fatalf("the code is not stored by its SHA-256 (%d rows)", n)
	}

	// Another code of the same fleet links another Slack user to its maker.
	wantText(t, "a second person", e.slash("U0ADA2", "C0DEV", "link "+e.linkCode()).Text, "You are *Ada*")

	// A code of another fleet cannot take the workspace, and stays unused.
	other := e.rival()
	var foreign struct{ Code string }
	other.admin.Call("POST", "/api/slack/link-codes?fleet="+other.fleet, nil, 201, &foreign)
	wantText(t, "another fleet's code", e.slash("U0ADA", "C0DEV", "link "+foreign.Code).Text, "already linked to another fleet")
	if n := e.count(`SELECT count(*) FROM slack_link_codes WHERE fleet_id = $1 AND used_at IS NULL`, other.fleet); n != 1 {
		t.Fatalf("the refused code was spent")
	}
}

// TestCommands covers each command's answers, including bad arguments and
// codes of another fleet.
func TestCommands(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.link()
	e.rival()

	for _, c := range []struct{ text, want string }{
		{"", "/ufo list [mine|KEY]"},
		{"help", "/ufo rovers"},
		{"bogus", `unknown command "bogus"`},
		{"status MSJ", "usage: /ufo status KEY-12"},
		{"status", "usage: /ufo status KEY-12"},
		{"cancel", "usage: /ufo cancel KEY-12"},
		{"assign MSJ-1", "usage: /ufo assign KEY-12 NAME"},
		{"rovers now", "takes no arguments"},
		{"new", "usage: /ufo new"},
		{"pilot cc", "use `/ufo assign KEY-12 NAME`"},
		{"new NOPE fix it", "mission NOPE not found"},
		{"new fix it --pilot nobody", "pilot nobody not found"},
		{"status MSJ-1", "MSJ-1 not found"}, // the other fleet's MSJ-1 is not visible
		{"cancel MSJ-1", "MSJ-1 not found"},
		{"assign MSJ-1 cc", "MSJ-1 not found"},
		{"list ZZZ", "mission ZZZ not found"},
		{"list", "No open operations."},
		{"rovers", "No rovers yet"},
	} {
		r := e.slash("U0ADA", "C0DEV", c.text)
		wantText(t, "/ufo "+c.text, r.Text, c.want)
	}

	// new, then the reads.
	r := e.slash("U0ADA", "C0DEV", "new MSJ fix the flaky test\n\nIt fails on CI.")
	wantText(t, "new", r.Text, "Starting *fix the flaky test* in MSJ for pilot *cc*")
	e.waitFor("the operation", func() bool { ops := e.operations(); return len(ops) == 1 && ops[0].SlackTS != "" })
	if op := e.operations()[0]; op.Body != "It fails on CI." {
		t.Fatalf("body = %q", op.Body)
	}
	wantText(t, "list", e.slash("U0ADA", "C0DEV", "list").Text, "<http://ufo.test/operations/MSJ-1?fleet="+e.fleet+"|MSJ-1> fix the flaky test · queued")
	wantText(t, "list mine", e.slash("U0ADA", "C0DEV", "list mine").Text, "Your open operations", "MSJ-1")
	wantText(t, "list mine, someone else", e.slash("U0NOBODY", "C0DEV", "list mine").Text, "No open operations.")
	wantText(t, "list MSJ", e.slash("U0ADA", "C0DEV", "list msj").Text, "Open operations in MSJ", "MSJ-1")
	st := e.slash("U0ADA", "C0DEV", "status msj-1")
	wantText(t, "status", st.Text, "MSJ-1 fix the flaky test: queued")
	if len(st.Blocks) < 3 || !strings.Contains(string(st.Blocks[len(st.Blocks)-1]), `"action_id":"cancel"`) {
		t.Fatalf("status blocks = %s", st.Blocks)
	}

	// Rovers.
	rv := e.enroll()
	rv.Call("POST", "/api/rover/connect", map[string]any{"profile": map[string]any{"os": "linux", "arch": "amd64", "hostname": "box"}}, 200, nil)
	cl := rv.claim()
	wantText(t, "rovers", e.slash("U0ADA", "C0DEV", "rovers").Text, "*box* busy on MSJ-1 · linux/amd64")

	// cancel, retry, assign: acknowledged, then answered.
	r = e.slash("U0ADA", "C0DEV", "cancel MSJ-1")
	wantText(t, "cancel", r.Text, "Canceling MSJ-1…")
	wantText(t, "cancel's answer", e.answer(r, 1), "Canceled MSJ-1's run.")
	rv.complete(cl, wire.Completion{Status: "canceled"})
	e.waitFor("the canceled run", func() bool { return e.runs(e.operations()[0].ID)[0].Status == "canceled" })
	r = e.slash("U0ADA", "C0DEV", "cancel MSJ-1")
	wantText(t, "cancel again", e.answer(r, 1), "MSJ-1 has no active run")
	r = e.slash("U0ADA", "C0DEV", "retry MSJ-1")
	wantText(t, "retry", r.Text, "Retrying MSJ-1…")
	wantText(t, "retry's answer", e.answer(r, 1), "Queued MSJ-1 again.")
	e.create("/api/pilots", `{"name":"cx","kind":"exec","settings":{"command":"true"}}`)
	r = e.slash("U0ADA", "C0DEV", "assign MSJ-1 cx")
	wantText(t, "assign", r.Text, "Assigning MSJ-1 to cx…")
	wantText(t, "assign's answer", e.answer(r, 1), "Assigned MSJ-1 to cx; it is queued.")
	op := e.operations()[0]
	if runs := e.runs(op.ID); len(runs) != 3 || runs[0].Status != "queued" || runs[1].Status != "canceled" {
		t.Fatalf("runs after cancel, retry, assign: %+v", runs)
	}
}

// TestNewCommandEdges: a replayed command acts once; a channel the bot is
// not in gets a hint and no operation; several missions need a KEY unless
// the channel is a mission's.
func TestNewCommandEdges(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.link()
	form := e.commandForm("U0ADA", "C0DEV", "new fix it once")
	for i, want := range []string{"Starting *fix it once*", "already on it"} {
		status, body := e.signed("/slack/commands", "application/x-www-form-urlencoded", []byte(form.Encode()), time.Now(), nil)
		if status != 200 || !strings.Contains(string(body), want) {
			t.Fatalf("delivery %d: %d %s, want %q", i+1, status, body, want)
		}
	}
	e.waitFor("the operation", func() bool { ops := e.operations(); return len(ops) == 1 && ops[0].SlackTS != "" })
	if n := e.count(`SELECT count(*) FROM jobs WHERE kind = 'slack.command' AND payload::text NOT LIKE '%xyzz0WbapA4vBCDEFasx0q6G%'`); n != 1 {
		t.Fatalf("%d command jobs without the verification token, want 1", n)
	}

	e.fake.Outside("C0SECRET")
	r := e.slash("U0ADA", "C0SECRET", "new fix it there")
	wantText(t, "a channel without the bot", e.answer(r, 1), "invite it with `/invite @UFO`")
	if n := len(e.operations()); n != 1 {
		t.Fatalf("%d operations, want 1", n)
	}

	e.create("/api/missions", `{"name":"Web","key":"WEB","slack_channel":"C0WEB"}`)
	wantText(t, "two missions", e.slash("U0ADA", "C0DEV", "new fix it").Text, "name the mission", "MSJ", "WEB")
	wantText(t, "the channel's mission", e.slash("U0ADA", "C0WEB", "new fix the web").Text, "Starting *fix the web* in WEB…",
		"wait in the backlog") // WEB has no default pilot, and the fleet has two
	e.waitFor("the WEB operation", func() bool { ops := e.operations(); return len(ops) == 2 && ops[0].Code == "WEB-1" })
}
