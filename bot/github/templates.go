package github

import (
	"bytes"
	"fmt"
	htmltemplate "html/template"
	"strings"
	"text/template"

	ghtemplates "github.com/ufo-run/ufo/templates/github"
)

// markerPrefix starts the hidden HTML comment at the end of everything UFO
// writes on GitHub: it finds the status comment again after a crash, and
// tells UFO's own comments apart when the App's slug is unknown.
const markerPrefix = "<!-- ufo:"

func marker(kind, id string) string {
	if id == "" {
		return markerPrefix + kind + " -->"
	}
	return markerPrefix + kind + " " + id + " -->"
}

// templates are the App's templates, parsed once.
type templates struct {
	text map[string]*template.Template
	html *htmltemplate.Template
}

var textTemplates = []string{"status.md", "pull_request.md", "help.md", "denied.md", "reply.md"}

func parseTemplates() (*templates, error) {
	funcs := template.FuncMap{"marker": marker}
	t := &templates{text: map[string]*template.Template{}}
	for _, name := range textTemplates {
		p, err := template.New(name).Funcs(funcs).ParseFS(ghtemplates.FS, name)
		if err != nil {
			return nil, fmt.Errorf("github: parse template %s: %w", name, err)
		}
		t.text[name] = p
	}
	h, err := htmltemplate.ParseFS(ghtemplates.FS, "setup.html")
	if err != nil {
		return nil, fmt.Errorf("github: parse template setup.html: %w", err)
	}
	for _, name := range []string{"confirm", "linked", "problem"} {
		if h.Lookup(name) == nil {
			return nil, fmt.Errorf("github: setup.html defines no %q", name)
		}
	}
	t.html = h
	return t, nil
}

// render executes a text template; the result is trimmed.
func (t *templates) render(name string, data any) (string, error) {
	var b bytes.Buffer
	if err := t.text[name].Execute(&b, data); err != nil {
		return "", fmt.Errorf("render %s: %w", name, err)
	}
	return strings.TrimSpace(b.String()), nil
}
