package admin

import (
	"context"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"

	"github.com/oauthd/oauthd/server/admin/adminapi"
	"github.com/oauthd/oauthd/server/apps"
)

// TestOpenAPI validates docs/openapi.yaml and checks that it documents
// exactly the admin routes the server registers: a route added without
// its documentation, or documented but gone, fails here.
func TestOpenAPI(t *testing.T) {
	doc := loadSpec(t)

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

func loadSpec(t *testing.T) *openapi3.T {
	t.Helper()
	doc, err := openapi3.NewLoader().LoadFromFile("../../docs/openapi.yaml")
	if err != nil {
		t.Fatalf("loading the spec: %v", err)
	}
	if err := doc.Validate(context.Background()); err != nil {
		t.Fatalf("the spec does not validate: %v", err)
	}
	return doc
}

// TestOpenAPISchemas checks that each object schema of docs/openapi.yaml
// names exactly the JSON fields of its type in adminapi, the wire
// contract: a field added to one and not the other fails here.
func TestOpenAPISchemas(t *testing.T) {
	doc := loadSpec(t)
	types := map[string]any{
		"Error":               adminapi.Error{},
		"NewApplication":      adminapi.NewApplicationRequest{},
		"ImportedApplication": adminapi.ImportApplicationRequest{},
		"SecretDigest":        adminapi.SecretDigest{},
		"ExportedApplication": adminapi.ExportedApplication{},
		"ApplicationExport":   adminapi.ApplicationExport{},
		"ApplicationPatch":    adminapi.ApplicationPatchRequest{},
		"Application":         adminapi.Application{},
		"Secret":              adminapi.Secret{},
		"ApplicationList":     adminapi.ApplicationList{},
		"SecretResetRequest":  adminapi.SecretResetRequest{},
		"SecretReset":         adminapi.SecretReset{},
		"Token":               adminapi.Token{},
		"TokenList":           adminapi.TokenList{},
		"NewAPIKey":           adminapi.NewAPIKeyRequest{},
		"APIKey":              adminapi.APIKey{},
		"Event":               adminapi.Event{},
		"EventList":           adminapi.EventList{},
		"SigningKey":          adminapi.SigningKey{},
		"SigningKeyList":      adminapi.SigningKeyList{},
		"ErrorDetail":         adminapi.ErrorDetail{},
		"Scope":               adminapi.Scope{},
		"ScopeList":           adminapi.ScopeList{},
		"ScopeRequest":        adminapi.ScopeRequest{},
		"ClientAuth":          adminapi.ClientAuth{},
		"WorkloadIdentity":    adminapi.WorkloadIdentity{},
	}
	for name, ref := range doc.Components.Schemas {
		documented := schemaFields(ref.Value)
		if len(documented) == 0 {
			continue // not an object: Lifetime, EventKind
		}
		v, ok := types[name]
		if !ok {
			t.Errorf("schema %s has no type in adminapi", name)
			continue
		}
		if got := jsonFields(reflect.TypeOf(v)); !slices.Equal(got, documented) {
			t.Errorf("schema %s has the fields %v; %T has %v", name, documented, v, got)
		}
	}
	for name := range types {
		if doc.Components.Schemas[name] == nil {
			t.Errorf("adminapi's type for %s has no schema in docs/openapi.yaml", name)
		}
	}
}

// schemaFields are an object schema's property names, allOf's included,
// sorted.
func schemaFields(s *openapi3.Schema) []string {
	var out []string
	for name := range s.Properties {
		out = append(out, name)
	}
	for _, part := range s.AllOf {
		out = append(out, schemaFields(part.Value)...)
	}
	slices.Sort(out)
	return out
}

// jsonFields are the names encoding/json gives a struct's fields, embedded
// structs' included, sorted.
func jsonFields(t reflect.Type) []string {
	var out []string
	for f := range t.Fields() {
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		switch {
		case name == "-":
		case f.Anonymous && name == "":
			out = append(out, jsonFields(f.Type)...)
		case name == "":
			out = append(out, f.Name)
		default:
			out = append(out, name)
		}
	}
	slices.Sort(out)
	return out
}
