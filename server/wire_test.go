package server

import (
	"bytes"
	"encoding/json"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/oauthd/oauthd/server/introspect"
)

// jsonNames lists the JSON member names of a struct type.
func jsonNames(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// The introspection answer oauthd writes and the one the resource-server
// package reads are two types (so the OAuth endpoints do not import their
// client); they must name the same members, and a full answer must reach
// the package whole.
func TestIntrospectionWireContract(t *testing.T) {
	ours, theirs := jsonNames(reflect.TypeFor[introspection]()), jsonNames(reflect.TypeFor[introspect.Response]())
	if !slices.Equal(ours, theirs) {
		t.Fatalf("members differ:\n oauthd  %v\n package %v", ours, theirs)
	}
	sent := introspection{Active: true, Scope: "sms groups", ClientID: "c1", TokenType: "Bearer", Exp: 2, Iat: 1,
		Sub: "c1", Iss: "https://auth.example", Jti: "c1.x.y", Owner: "acct", Aud: []string{"https://sms.example"}, InactiveReason: "revoked",
		Cnf: &confirmation{JKT: "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", X5tS256: "bwcK0esc3ACC3DB2Y5_lESsXE8o9ltc05O89jdN-dg2"}}
	b, _ := json.Marshal(sent)
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	var got introspect.Response
	if err := dec.Decode(&got); err != nil {
		t.Fatal(err)
	}
	back, _ := json.Marshal(got)
	if !bytes.Equal(b, back) {
		t.Fatalf("the package read %s as %s", b, back)
	}
	if introspect.ReasonRevoked != "revoked" || clientIPParam != introspect.ClientIPParam {
		t.Fatal("the inactive reasons or the client_ip parameter drifted")
	}
}
