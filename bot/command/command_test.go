package command

import (
	"errors"
	"reflect"
	"testing"
)

func TestParse(t *testing.T) {
	t.Parallel()
	cases := []struct {
		in   string
		want Command
		bad  bool
	}{
		{"", Command{Name: Help}, false},
		{"help", Command{Name: Help}, false},
		{"retry", Command{Name: Retry}, false},
		{"retry api-12", Command{Name: Retry, Code: "API-12"}, false},
		{"status API-12", Command{Name: Status, Code: "API-12"}, false},
		{"cancel API-0", Command{}, true},
		{"cancel API-12 now", Command{}, true},
		{"pilot cc", Command{Name: Pilot, Pilot: "cc"}, false},
		{"pilot", Command{}, true},
		{"assign API-12 Codex", Command{Name: Assign, Code: "API-12", Pilot: "codex"}, false},
		{"assign API-12", Command{}, true},
		{"list", Command{Name: List}, false},
		{"list mine", Command{Name: List, Arg: "mine"}, false},
		{"list api", Command{Name: List, Key: "API"}, false},
		{"list a b", Command{}, true},
		{"rovers", Command{Name: Rovers}, false},
		{"link ufol_abc", Command{Name: Link, Arg: "ufol_abc"}, false},
		{"new API-12 fix the flaky test", Command{Name: New, Key: "API", Title: "API-12 fix the flaky test"}, false},
		{"new API fix the flaky test", Command{Name: New, Key: "API", Title: "fix the flaky test"}, false},
		{"new API", Command{Name: New, Title: "API"}, false},
		{"new fix it --pilot cc", Command{Name: New, Title: "fix it", Pilot: "cc"}, false},
		{"new API fix it --pilot=cc -- see the logs", Command{Name: New, Key: "API", Title: "fix it", Pilot: "cc", Body: "see the logs"}, false},
		{"new fix it\n\nsteps:\n1. run", Command{Name: New, Title: "fix it", Body: "steps:\n1. run"}, false},
		{"new --pilot", Command{}, true},
		{"new", Command{}, true},
		{"deploy prod", Command{}, true},
		{"help me", Command{}, true},
	}
	for _, tc := range cases {
		got, err := Parse(tc.in)
		if tc.bad {
			var pe *Error
			if !errors.As(err, &pe) || pe.Msg == "" {
				t.Errorf("Parse(%q) = %+v, %v; want a parse error", tc.in, got, err)
			}
			continue
		}
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestFindInComment(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"/ufo retry":                      "retry",
		"Thanks!\n  /ufo pilot codex \nx": "pilot codex",
		"/ufo":                            "",
	} {
		got, ok := FindInComment(in)
		if !ok || got != want {
			t.Errorf("FindInComment(%q) = %q, %v; want %q", in, got, ok, want)
		}
	}
	for _, in := range []string{"no command here", "/ufology is a word", "see `/ufo` docs"} {
		if _, ok := FindInComment(in); ok {
			t.Errorf("FindInComment(%q) found a command", in)
		}
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{"", "new API fix --pilot cc -- body", "retry API-1", "assign A-1 x", "new\n\n\n", "list mine", "new -- --pilot"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(s)
		if err == nil && c.Name == "" {
			t.Fatalf("Parse(%q) gave no command and no error", s)
		}
		if err == nil && c.Name == New && c.Title == "" {
			t.Fatalf("Parse(%q) gave new with no title", s)
		}
	})
}
