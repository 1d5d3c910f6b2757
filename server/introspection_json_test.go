package server

import (
	"bytes"
	"encoding/json"
	"testing"
)

// TestIntrospectionEncoding holds the hand-written encoder to
// encoding/json's output, byte for byte, member order and escaping
// included: what resource servers parse must not change with it.
func TestIntrospectionEncoding(t *testing.T) {
	for _, tc := range []struct {
		name string
		in   introspection
	}{
		{"inactive", introspection{}},
		{"inactive with a reason", introspection{InactiveReason: "revoked"}},
		{"active", introspection{Active: true, Scope: "sms groups", ClientID: "c1", TokenType: "Bearer", Exp: 1700003600, Iat: 1700000000,
			Sub: "c1", Iss: "https://auth.example", Jti: "c1.x.y", Owner: "acct", Aud: []string{"https://sms.example"}}},
		{"never expires", introspection{Active: true, Scope: "sms", ClientID: "c1", TokenType: "Bearer", Iat: 1, Sub: "c1", Iss: "http://x", Jti: "j"}},
		{"negative times", introspection{Active: true, Exp: -5, Iat: -1}},
		{"two audiences", introspection{Active: true, Aud: []string{"https://a.example", "https://b.example/p?q=1&r=2"}}},
		{"empty audience list", introspection{Active: true, Aud: []string{}}},
		{"an empty audience", introspection{Active: true, Aud: []string{""}}},
		{"escapes", introspection{Active: true, Owner: "a \"quoted\" \\ owner <b>&</b>", Iss: "https://auth.example/é", Jti: "tab\there\nnew\x01\x7f",
			Scope: "line\u2028sep\u2029", ClientID: "bad\xffutf8"}},
		{"dpop binding", introspection{Active: true, Cnf: &confirmation{JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}},
		{"certificate binding", introspection{Active: true, Cnf: &confirmation{X5tS256: "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}},
		{"both bindings", introspection{Active: true, Cnf: &confirmation{JKT: "k", X5tS256: "x"}}},
		{"empty binding", introspection{Active: true, Cnf: &confirmation{}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			want, err := json.Marshal(tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := tc.in.appendJSON(nil); !bytes.Equal(got, want) {
				t.Fatalf("appendJSON:\n got %s\nwant %s", got, want)
			}
			// Appending keeps what the buffer held.
			if got := tc.in.appendJSON([]byte("x")); !bytes.Equal(got, append([]byte("x"), want...)) {
				t.Fatalf("appendJSON after a prefix: %s", got)
			}
		})
	}
}
