package github

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"regexp"
	"strings"

	gh "github.com/google/go-github/v92/github"
	"go.yaml.in/yaml/v3"
)

// ConfigPath is where a repository keeps its UFO settings, on its default
// branch.
const ConfigPath = ".github/ufo.yml"

// defaultLabel is the trigger label when .github/ufo.yml names none.
const defaultLabel = "ufo"

// RepoConfig is a repository's .github/ufo.yml. Every field is optional.
type RepoConfig struct {
	// Pilot runs the work when the label names none.
	Pilot string `yaml:"pilot"`
	// Label is the trigger label (default "ufo"); "<label>:<pilot>" names
	// the pilot.
	Label string `yaml:"label"`
	// Reviewers are asked for review when nobody in particular triggered
	// the work; they seed the mission made for the repository.
	Reviewers []string `yaml:"reviewers"`
	// BranchPrefix seeds the mission made for the repository (default
	// "ufo/").
	BranchPrefix string `yaml:"branch_prefix"`
	// Tags are rover tags every run of the repository's issues requires.
	Tags []string `yaml:"tags"`
}

// TriggerLabel is the label that starts work.
func (c RepoConfig) TriggerLabel() string {
	if c.Label == "" {
		return defaultLabel
	}
	return c.Label
}

var (
	pilotName   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,39}$`)
	loginName   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]{0,38}$`)
	branchStart = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._/-]{0,39}$`)
	tagName     = regexp.MustCompile(`^[^\s,]{1,50}$`)
)

// ParseRepoConfig reads and validates a .github/ufo.yml. Its error lists
// every problem, one per line, fit to post as a comment.
func ParseRepoConfig(data []byte) (RepoConfig, error) {
	var c RepoConfig
	if len(data) > 64<<10 {
		return c, errors.New("the file is larger than 64 KiB")
	}
	if len(bytes.TrimSpace(data)) == 0 {
		return c, nil
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil && !errors.Is(err, io.EOF) {
		return RepoConfig{}, fmt.Errorf("it is not a valid settings file: %s", strings.TrimPrefix(err.Error(), "yaml: "))
	}
	var extra any
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return RepoConfig{}, errors.New("it holds more than one YAML document")
	}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	if c.Pilot != "" && !pilotName.MatchString(c.Pilot) {
		bad("pilot %q is not a pilot name (lower-case letters, digits, - and _, at most 40)", c.Pilot)
	}
	if c.Label != "" && (len(c.Label) > 50 || strings.ContainsAny(c.Label, ":\n\r\t") || strings.TrimSpace(c.Label) != c.Label) {
		bad("label %q must be at most 50 characters, without a colon or surrounding spaces", c.Label)
	}
	if len(c.Reviewers) > 15 {
		bad("at most 15 reviewers")
	}
	for _, r := range c.Reviewers {
		if !loginName.MatchString(r) {
			bad("reviewer %q is not a GitHub login", r)
		}
	}
	if p := c.BranchPrefix; p != "" && (!branchStart.MatchString(p) || strings.Contains(p, "..") ||
		strings.Contains(p, "//") || strings.HasSuffix(p, ".") || strings.HasSuffix(p, ".lock")) {
		bad("branch_prefix %q is not a valid start of a branch name (letters, digits, . _ / -, at most 40)", p)
	}
	if len(c.Tags) > 20 {
		bad("at most 20 tags")
	}
	for _, t := range c.Tags {
		if !tagName.MatchString(t) {
			bad("tag %q must be 1 to 50 characters without spaces or commas", t)
		}
	}
	if len(problems) > 0 {
		return RepoConfig{}, errors.New(strings.Join(problems, "\n"))
	}
	return c, nil
}

// configError is a .github/ufo.yml that does not parse or validate.
type configError struct {
	ref string
	err error
}

func (e *configError) Error() string { return ConfigPath + " on " + e.ref + ": " + e.err.Error() }

// comment is the text posted on the issue about it.
func (e *configError) comment() string {
	var b strings.Builder
	fmt.Fprintf(&b, "`%s` on `%s` is not valid, so UFO did nothing:\n\n", ConfigPath, e.ref)
	for _, line := range strings.Split(e.err.Error(), "\n") {
		fmt.Fprintf(&b, "- %s\n", line)
	}
	b.WriteString("\nFix it, then add the label again.")
	return b.String()
}

// repoConfig reads a repository's .github/ufo.yml at ref; a missing file
// is the default settings, an invalid one a *configError.
func (a *App) repoConfig(ctx context.Context, c *installation, owner, name, ref string) (RepoConfig, error) {
	file, _, _, err := c.rest.Repositories.GetContents(ctx, owner, name, ConfigPath, &gh.RepositoryContentGetOptions{Ref: ref})
	if status(err) == 404 {
		return RepoConfig{}, nil
	}
	if err != nil {
		return RepoConfig{}, fmt.Errorf("read %s of %s/%s: %w", ConfigPath, owner, name, err)
	}
	if file == nil {
		return RepoConfig{}, &configError{ref: ref, err: errors.New("it is a directory, not a file")}
	}
	text, err := file.GetContent()
	if err != nil {
		return RepoConfig{}, &configError{ref: ref, err: err}
	}
	cfg, err := ParseRepoConfig([]byte(text))
	if err != nil {
		return RepoConfig{}, &configError{ref: ref, err: err}
	}
	return cfg, nil
}
