package admin

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/oauthd/oauthd/server/apps"
)

// TestOpenAPI validates docs/openapi.yaml and checks that it documents
// exactly the admin routes the server registers: a route added without
// its documentation, or documented but gone, fails here.
func TestOpenAPI(t *testing.T) {
	doc, err := openapi3.NewLoader().LoadFromFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatalf("loading the spec: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the spec does not validate: %v", err)
	}

	env := newAdminEnv(t)
	var registered []string
	for _, r := range New(Config{}, env.apps, env.store).Routes() {
		registered = append(registered, r.Method+" "+r.Path)
	}
	var documented []string
	for path, item := range doc.Paths.Map() {
		for method, op := range item.Operations() {
			documented = append(documented, method+" "+path)
			checkOperation(t, method+" "+path, path, item, op)
		}
	}
	for _, r := range registered {
		if !slices.Contains(documented, r) {
			t.Errorf("route %s is registered but not documented in docs/openapi.yaml", r)
		}
	}
	for _, d := range documented {
		if !slices.Contains(registered, d) {
			t.Errorf("docs/openapi.yaml documents %s, which the server does not register", d)
		}
	}
	if len(registered) == 0 {
		t.Fatal("no admin routes registered")
	}
	var kinds []string
	for _, v := range doc.Components.Schemas["EventKind"].Value.Enum {
		kinds = append(kinds, v.(string))
	}
	if !slices.Equal(kinds, apps.EventKinds) {
		t.Errorf("EventKind in docs/openapi.yaml is %v; the service records %v", kinds, apps.EventKinds)
	}
}

// checkOperation: every path parameter is declared, and every operation
// documents its 401 and its errors with the shared Error schema.
func checkOperation(t *testing.T, name, path string, item *openapi3.PathItem, op *openapi3.Operation) {
	t.Helper()
	declared := map[string]bool{}
	for _, p := range append(item.Parameters, op.Parameters...) {
		if p.Value != nil && p.Value.In == "path" {
			declared[p.Value.Name] = true
		}
	}
	for _, seg := range strings.Split(path, "/") {
		if strings.HasPrefix(seg, "{") && !declared[strings.Trim(seg, "{}")] {
			t.Errorf("%s: path parameter %s is not declared", name, seg)
		}
	}
	if op.Responses.Value("401") == nil {
		t.Errorf("%s: no 401 answer documented", name)
	}
	for code, r := range op.Responses.Map() {
		if !strings.HasPrefix(code, "4") && !strings.HasPrefix(code, "5") {
			continue
		}
		mt := r.Value.Content.Get("application/json")
		if mt == nil || mt.Schema == nil || mt.Schema.Ref != "#/components/schemas/Error" {
			t.Errorf("%s: %s answer does not use the Error schema", name, code)
		}
	}
}
