package broker_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/graphsoar/graphsoar/internal/broker"
)

func TestRedactURL(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"nats://a:4222,nats://u:p2@b:4222", "nats://a:4222,nats://[REDACTED]@b:4222"},
		{"nats://u:p1@a:4222,nats://u:p2@b:4222", "nats://[REDACTED]@a:4222,nats://[REDACTED]@b:4222"},
		{"nats://u:p1@a:4222, tls://tok@b:4222", "nats://[REDACTED]@a:4222,tls://[REDACTED]@b:4222"},
		{"nats://u:p%40ss@a:4222", "nats://[REDACTED]@a:4222"},
		{"nats://u:p@ss@a:4222", "nats://[REDACTED]@a:4222"}, // malformed: still hidden
		{"u:p@a:4222", "[REDACTED]@a:4222"},
		{"nats://a:4222", "nats://a:4222"},
		{"", ""},
	}
	for _, tt := range tests {
		if got := broker.RedactURL(tt.in); got != tt.want {
			t.Errorf("RedactURL(%q) = %q, want %q", tt.in, got, tt.want)
		}
	}
}

// TestConnectErrorRedactsEveryURL: a connection error over a list of
// servers names each of them without the credentials of any.
func TestConnectErrorRedactsEveryURL(t *testing.T) {
	t.Parallel()
	closed := func() string {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer l.Close()
		return l.Addr().String()
	}
	a, b := closed(), closed()
	for _, url := range []string{
		"nats://" + a + ",nats://u:p2-secret@" + b,
		"nats://alice:first-secret@" + a + ",nats://bob:p2-secret@" + b,
		"nats://alice:p%2F2-secret@" + a,
		"nats://alice:bad port@" + a + "x", // unparsable: url.Parse quotes it whole
	} {
		var logs bytes.Buffer
		nc, err := broker.Connect(url, "test", slog.New(slog.NewTextHandler(&logs, nil)))
		if err == nil {
			nc.Close()
			t.Fatalf("%s: connected", url)
		}
		msg := err.Error() + logs.String()
		for _, secret := range []string{"p2-secret", "first-secret", "p%2F2-secret", "p/2-secret", "bad port"} {
			if strings.Contains(msg, secret) {
				t.Errorf("%q holds the password %q", msg, secret)
			}
		}
		if !strings.Contains(msg, a) {
			t.Errorf("%q does not name the server %s", msg, a)
		}
	}
}

// TestSecretNeverPrinted: every way a Secret is printed or encoded hides it.
func TestSecretNeverPrinted(t *testing.T) {
	t.Parallel()
	const value = "hunter2-is-the-password"
	s := broker.Secret(value)
	auth := broker.Auth{User: "u", Password: s}
	j, _ := json.Marshal(auth)
	y, _ := yaml.Marshal(auth)
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("x", "password", s, "auth", auth)
	for _, out := range []string{
		fmt.Sprint(s), fmt.Sprintf("%v %+v %#v %s %q", s, s, s, s, s),
		fmt.Sprintf("%v %+v %#v %s", auth, auth, auth, auth), auth.String(),
		string(j), string(y), logs.String(),
	} {
		if strings.Contains(out, value) {
			t.Errorf("%q shows the secret", out)
		}
	}
	if s.Reveal() != value || fmt.Sprint(s) != "[REDACTED]" || fmt.Sprint(broker.Secret("")) != "" {
		t.Errorf("Reveal %q, String %q", s.Reveal(), s)
	}
}
