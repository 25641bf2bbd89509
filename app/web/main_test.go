package web_test

import (
	"context"
	"testing"

	"github.com/ufo-run/ufo/app/web"
	"github.com/ufo-run/ufo/app/web/webtest"
	"github.com/ufo-run/ufo/store"
	"github.com/ufo-run/ufo/store/pgtest"
)

func TestMain(m *testing.M) {
	pgtest.Setup(func(ctx context.Context, url string) error { return store.Migrate(ctx, url, nil) })
	pgtest.Main(m)
}

// env is one server on its own database.
type env struct{ *webtest.Server }

func newEnv(t testing.TB, tweak ...func(*web.Config)) *env {
	t.Helper()
	return &env{webtest.New(t, tweak...)}
}

type idOnly struct {
	ID string `json:"id"`
}
