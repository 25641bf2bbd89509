package github

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"log/slog"
	"strings"
	"testing"
)

func TestNewConfig(t *testing.T) {
	t.Parallel()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(key)
	keys := map[string][]byte{
		"PKCS#1": pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}),
		"PKCS#8": pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}),
	}
	log := slog.New(slog.DiscardHandler)
	for name, pemKey := range keys {
		for _, c := range []struct{ api, gql, wantREST, wantGQL string }{
			{"", "", "https://api.github.com/", "https://api.github.com/graphql"},
			{"https://ghe.example.com/api/v3", "", "https://ghe.example.com/api/v3/", "https://ghe.example.com/api/graphql"},
			{"http://127.0.0.1:9/", "", "http://127.0.0.1:9/", "http://127.0.0.1:9/graphql"},
			{"https://ghe.example.com/api/v3/", "https://gql.example.com/q", "https://ghe.example.com/api/v3/", "https://gql.example.com/q"},
		} {
			a, err := New(Config{AppID: 1, PrivateKey: pemKey, WebhookSecret: "s", APIURL: c.api, GraphQLURL: c.gql}, nil, log)
			if err != nil {
				t.Fatalf("%s %q: %v", name, c.api, err)
			}
			if a.restURL != c.wantREST || a.gqlURL != c.wantGQL || a.apps.BaseURL != strings.TrimSuffix(c.wantREST, "/") {
				t.Errorf("%s %q %q: REST %q GraphQL %q apps %q", name, c.api, c.gql, a.restURL, a.gqlURL, a.apps.BaseURL)
			}
		}
	}
	for _, c := range []Config{
		{AppID: 0, PrivateKey: keys["PKCS#1"], WebhookSecret: "s"},
		{AppID: 1, PrivateKey: keys["PKCS#1"]},
		{AppID: 1, PrivateKey: []byte("not a key"), WebhookSecret: "s"},
		{AppID: 1, PrivateKey: keys["PKCS#1"], WebhookSecret: "s", APIURL: "ftp://x/"},
	} {
		if _, err := New(c, nil, log); err == nil {
			t.Errorf("New(%+v) accepted it", c)
		}
	}
}
