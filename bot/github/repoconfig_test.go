package github_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/ufo-run/ufo/bot/github"
)

func TestParseRepoConfig(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name string
		in   string
		want github.RepoConfig
		bad  []string // fragments of the error, one per problem
	}{
		{"empty", "", github.RepoConfig{}, nil},
		{"comments only", "# nothing set\n", github.RepoConfig{}, nil},
		{"all", "pilot: cc\nlabel: agent\nreviewers: [octocat, hubot]\nbranch_prefix: bots/\ntags: [gpu, linux]\n",
			github.RepoConfig{Pilot: "cc", Label: "agent", Reviewers: []string{"octocat", "hubot"}, BranchPrefix: "bots/", Tags: []string{"gpu", "linux"}}, nil},
		{"unknown field", "pilott: cc\n", github.RepoConfig{}, []string{"pilott"}},
		{"not a mapping", "- cc\n", github.RepoConfig{}, []string{"not a valid settings file"}},
		{"two documents", "pilot: cc\n---\npilot: dd\n", github.RepoConfig{}, []string{"more than one YAML document"}},
		{"bad values", "pilot: Claude Code\nlabel: 'a:b'\nreviewers: [-x]\nbranch_prefix: ../x\ntags: ['a b']\n", github.RepoConfig{},
			[]string{`pilot "Claude Code"`, `label "a:b"`, `reviewer "-x"`, `branch_prefix "../x"`, `tag "a b"`}},
		{"too many", "reviewers: [a,b,c,d,e,f,g,h,i,j,k,l,m,n,o,p]\n", github.RepoConfig{}, []string{"at most 15 reviewers"}},
		{"lock suffix", "branch_prefix: x.lock\n", github.RepoConfig{}, []string{"branch_prefix"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			got, err := github.ParseRepoConfig([]byte(c.in))
			if c.bad == nil {
				if err != nil || got.Pilot != c.want.Pilot || got.Label != c.want.Label || got.BranchPrefix != c.want.BranchPrefix ||
					!slices.Equal(got.Reviewers, c.want.Reviewers) || !slices.Equal(got.Tags, c.want.Tags) {
					t.Fatalf("ParseRepoConfig(%q) = %+v, %v; want %+v", c.in, got, err, c.want)
				}
				return
			}
			if err == nil {
				t.Fatalf("ParseRepoConfig(%q) = %+v, want an error", c.in, got)
			}
			for _, frag := range c.bad {
				if !strings.Contains(err.Error(), frag) {
					t.Errorf("error %q does not mention %q", err, frag)
				}
			}
			if len(c.bad) > 1 && len(strings.Split(err.Error(), "\n")) != len(c.bad) {
				t.Errorf("error %q: want one line per problem", err)
			}
		})
	}
	if got := (github.RepoConfig{}).TriggerLabel(); got != "ufo" {
		t.Errorf("default trigger label = %q", got)
	}
}

// FuzzParseRepoConfig: no input panics, and whatever is accepted holds
// only valid values.
func FuzzParseRepoConfig(f *testing.F) {
	for _, s := range []string{"", "pilot: cc\n", "label: agent\nreviewers: [a]\n", "tags: [gpu]\nbranch_prefix: x/\n",
		"a: &a [*a]\n", "pilot: [1, {x: y}]\n", "? [a]\n: b\n", "pilot: !!binary aGVsbG8=\n", "---\n---\n", "\xff\xfe"} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := github.ParseRepoConfig(data)
		if err != nil {
			if err.Error() == "" {
				t.Fatal("empty error")
			}
			return
		}
		if strings.ContainsAny(c.Label, ":\n") || len(c.Label) > 50 || len(c.Reviewers) > 15 || len(c.Tags) > 20 ||
			strings.Contains(c.BranchPrefix, "..") || strings.ContainsAny(c.Pilot, " A:") {
			t.Fatalf("accepted an invalid config %+v from %q", c, data)
		}
	})
}
