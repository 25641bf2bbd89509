package web

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/ufo-run/ufo/app"
	"github.com/ufo-run/ufo/store"
)

const (
	columnLimit = 100 // cards per Kanban column
	listLimit   = 100 // rows per List page
)

// boardFilter is the board's state, all of it kept in the URL.
type boardFilter struct {
	Fleet    string
	View     string // board | list
	Mission  string // id or key
	Assignee string // "pilot:ID", "crew:ID", "user:ID", or a pilot's name
	Label    string
	Q        string
	Sort     string
	Status   string // list view only
	Page     int    // list view only, from 0
}

func readBoardFilter(r *http.Request) boardFilter {
	qv := r.URL.Query()
	f := boardFilter{Fleet: fleetFrom(r.Context()), View: qv.Get("view"), Mission: qv.Get("mission"),
		Assignee: qv.Get("assignee"), Label: qv.Get("label"), Q: strings.TrimSpace(qv.Get("q")),
		Sort: qv.Get("sort"), Status: qv.Get("status")}
	if f.View != "list" {
		f.View, f.Status = "board", ""
	}
	if !slices.Contains(operationSorts, f.Sort) {
		f.Sort = ""
	}
	if !slices.Contains(app.Statuses, f.Status) {
		f.Status = ""
	}
	if n, err := strconv.Atoi(qv.Get("page")); err == nil && n > 0 && n < 10000 {
		f.Page = n
	}
	return f
}

// With is the board's URL with one setting changed: key, value pairs.
// Changing anything but the page goes back to the first page.
func (f boardFilter) With(kv ...string) string {
	q := url.Values{}
	set := func(k, v string) {
		if v != "" {
			q.Set(k, v)
		}
	}
	set("fleet", f.Fleet)
	if f.View == "list" {
		set("view", "list")
	}
	set("mission", f.Mission)
	set("assignee", f.Assignee)
	set("label", f.Label)
	set("q", f.Q)
	set("sort", f.Sort)
	set("status", f.Status)
	if f.Page > 0 {
		set("page", strconv.Itoa(f.Page))
	}
	paged := false
	for i := 0; i+1 < len(kv); i += 2 {
		q.Del(kv[i])
		set(kv[i], kv[i+1])
		paged = paged || kv[i] == "page"
	}
	if !paged {
		q.Del("page")
	}
	if q.Get("view") == "board" {
		q.Del("view")
	}
	return "/board?" + q.Encode()
}

// Filtered reports whether any filter narrows the operations shown.
func (f boardFilter) Filtered() bool {
	return f.Mission != "" || f.Assignee != "" || f.Label != "" || f.Q != "" || f.Status != ""
}

type option struct{ Value, Name string }

var sortOptions = []option{
	{"", "Newest first"}, {"created", "Oldest first"},
	{"-updated", "Recently updated"}, {"updated", "Least recently updated"},
	{"-priority", "Highest priority"}, {"priority", "Lowest priority"},
	{"title", "Title A–Z"}, {"-title", "Title Z–A"},
}

// card is an operation as the board shows it.
type card struct {
	app.Operation
	Assignee string
	Chips    []chip
	Failed   bool // its last run failed: a signal waits for a person
}

// chip is a label with its colour.
type chip struct{ Name, Color string }

func labelChips(names []string, labels []app.Label) []chip {
	out := make([]chip, len(names))
	for i, n := range names {
		out[i] = chip{Name: n}
		for _, l := range labels {
			if l.Name == n {
				out[i].Color = l.Color
			}
		}
	}
	return out
}

type column struct {
	Status string
	Cards  []card
	More   bool
}

type boardPage struct {
	layout
	Filter    boardFilter
	Missions  []app.Mission
	Assignees []assigneeGroup
	Labels    []app.Label
	Sorts     []option
	Statuses  []string
	Columns   []column // board view
	Rows      []card   // list view
	More      bool     // list view: a next page exists
}

func (s *Server) boardPage(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	fleet := fleetFrom(ctx)
	p := boardPage{layout: s.newLayout(r, "Board", "board"), Filter: readBoardFilter(r), Sorts: sortOptions, Statuses: app.Statuses}
	var err error
	if p.Missions, err = s.store.Missions(ctx, fleet); err != nil {
		s.pageError(w, r, err)
		return
	}
	as, err := s.assignees(ctx, fleet)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	p.Assignees = as.groups()
	if p.Labels, err = s.store.Labels(ctx, fleet); err != nil {
		s.pageError(w, r, err)
		return
	}
	failed, err := s.failedOperations(ctx, fleet)
	if err != nil {
		s.pageError(w, r, err)
		return
	}
	of, none := p.Filter.storeFilter(p.Missions, as)
	cards := func(f store.OperationFilter) ([]card, bool, error) {
		if none {
			return nil, false, nil
		}
		ops, err := s.store.Operations(ctx, fleet, f)
		if err != nil {
			return nil, false, err
		}
		more := len(ops) > f.Limit-1
		if more {
			ops = ops[:f.Limit-1]
		}
		out := make([]card, len(ops))
		for i, op := range ops {
			out[i] = card{Operation: op, Assignee: as.name(op.AssigneeType, op.AssigneeID),
				Chips: labelChips(op.Labels, p.Labels), Failed: failed[op.ID]}
		}
		return out, more, nil
	}
	if p.Filter.View == "list" {
		of.Status, of.Limit, of.Offset = p.Filter.Status, listLimit+1, p.Filter.Page*listLimit
		if p.Rows, p.More, err = cards(of); err != nil {
			s.pageError(w, r, err)
			return
		}
		s.render(w, http.StatusOK, "board", p)
		return
	}
	for _, st := range app.Statuses {
		of.Status, of.Limit = st, columnLimit+1
		c := column{Status: st}
		if c.Cards, c.More, err = cards(of); err != nil {
			s.pageError(w, r, err)
			return
		}
		p.Columns = append(p.Columns, c)
	}
	s.render(w, http.StatusOK, "board", p)
}

// storeFilter turns the board's filter into the store's; none is set when
// the filter names a mission or assignee that does not exist.
func (f boardFilter) storeFilter(missions []app.Mission, as assignees) (of store.OperationFilter, none bool) {
	of = store.OperationFilter{Label: f.Label, Text: f.Q, Sort: f.Sort}
	if f.Mission != "" {
		i := slices.IndexFunc(missions, func(m app.Mission) bool { return m.ID == f.Mission || m.Key == f.Mission })
		if i < 0 {
			return of, true
		}
		of.MissionID = &missions[i].ID
	}
	if f.Assignee != "" {
		id, ok := as.find(f.Assignee)
		if !ok {
			return of, true
		}
		of.AssigneeID = &id
	}
	return of, false
}

// failedOperations are the operations with an open "failed" signal.
func (s *Server) failedOperations(ctx context.Context, fleet string) (map[string]bool, error) {
	sigs, err := s.store.Signals(ctx, fleet, nil, false, 500, 0)
	if err != nil {
		return nil, err
	}
	out := map[string]bool{}
	for _, sg := range sigs {
		if sg.Kind == "failed" {
			out[sg.OperationID] = true
		}
	}
	return out, nil
}

// assignee is one choice of the assignee pickers: Value is "type:id".
type assignee struct {
	Value, Name, Group string
}

// assignees are the fleet's pilots, crews and members.
type assignees struct {
	list  []assignee
	names map[string]string // by Value
}

func (s *Server) assignees(ctx context.Context, fleet string) (assignees, error) {
	pilots, err := s.store.Pilots(ctx, fleet)
	if err != nil {
		return assignees{}, err
	}
	crews, err := s.store.Crews(ctx, fleet)
	if err != nil {
		return assignees{}, err
	}
	members, err := s.store.Memberships(ctx, fleet)
	if err != nil {
		return assignees{}, err
	}
	as := assignees{names: map[string]string{}}
	add := func(typ, id, name, group string) {
		a := assignee{Value: typ + ":" + id, Name: name, Group: group}
		as.list = append(as.list, a)
		as.names[a.Value] = name
	}
	for _, p := range pilots {
		add("pilot", p.ID, p.Name, "Pilots")
	}
	for _, c := range crews {
		add("crew", c.ID, c.Name, "Crews")
	}
	for _, m := range members {
		add("user", m.UserID, m.Name, "People")
	}
	return as, nil
}

type assigneeGroup struct {
	Name  string
	Items []assignee
}

// groups splits the choices into pilots, crews and people, for <optgroup>.
func (as assignees) groups() []assigneeGroup {
	var out []assigneeGroup
	for _, a := range as.list {
		if len(out) == 0 || out[len(out)-1].Name != a.Group {
			out = append(out, assigneeGroup{Name: a.Group})
		}
		out[len(out)-1].Items = append(out[len(out)-1].Items, a)
	}
	return out
}

func (as assignees) name(typ string, id *string) string {
	if id == nil || typ == "" {
		return ""
	}
	if n, ok := as.names[typ+":"+*id]; ok {
		return n
	}
	return "removed " + typ
}

// find resolves a filter value ("type:id", or a pilot's name) to an id.
func (as assignees) find(v string) (string, bool) {
	for _, a := range as.list {
		if a.Value == v || (a.Group == "Pilots" && a.Name == v) {
			_, id, _ := strings.Cut(a.Value, ":")
			return id, true
		}
	}
	return "", false
}
