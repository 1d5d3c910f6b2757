package main

import (
	"bytes"
	"context"
	"encoding/base64"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	goredis "github.com/redis/go-redis/v9"

	"github.com/oauthd/oauthd/cmd/internal/runtest"
	"github.com/oauthd/oauthd/server/credential"
	"github.com/oauthd/oauthd/store/redis/redistest"
)

// The leak scan. Every credential oauthd hands these tests (client
// secrets, access tokens, API keys, admin keys) is collected, and so is
// every text oauthd writes that must never hold one: the log lines of every
// oauthd the tests run, the CLI's standard error and the audit events in
// every Redis the tests start. Once all tests have run, TestMain looks for
// each credential in those texts, raw and in the encodings a careless line
// would use, and fails the package if it finds one.
//
// Credentials are harvested from what carries them to the tests, not
// registered test by test, so a new test is covered without remembering to:
// the answers of http.DefaultClient (which x/oauth2, http.Get and the
// tests' own requests use), the standard output of CLI commands and of
// oauthd serve (the demo application). leaks.register adds one that comes
// another way (a secret a test made up and imported).

// leaks is the test binary's one scan, read by TestMain.
var leaks = &leakScan{}

func TestMain(m *testing.M) {
	if os.Getenv(oauthdMainEnv) != "" {
		// A process of oauthdBinary: oauthd, not the tests.
		main()
		os.Exit(0)
	}
	// More tests at once than go test's default (one per CPU), unless
	// -parallel says otherwise: most of these wait on a program starting,
	// a redis-server or a real clock, not on the CPU.
	flag.Parse()
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "test.parallel" })
	if !set {
		_ = flag.Set("test.parallel", strconv.Itoa(max(8, 4*runtime.GOMAXPROCS(0))))
	}
	http.DefaultClient.Transport = harvestTransport{next: http.DefaultTransport, into: &leaks.answers}
	code := m.Run()
	findings, stats := leaks.scan()
	for _, f := range findings {
		fmt.Fprintln(os.Stderr, "LEAK:", f)
	}
	if len(findings) > 0 {
		fmt.Fprintf(os.Stderr, "FAIL: leak scan: %d credential(s) found where none may be (%s)\n", len(findings), stats)
		code = 1
	} else if testing.Verbose() {
		fmt.Printf("leak scan: clean (%s)\n", stats)
	}
	os.Exit(code)
}

// leakText is a named text, read when the scan runs (after every test),
// so lines written late (at shutdown) count too. Kind groups sinks in the
// summary ("log lines", "audit events").
type leakText struct {
	kind, name string
	text       func() string
}

type leakScan struct {
	mu       sync.Mutex
	sources  []leakText        // texts credentials are harvested from
	sinks    []leakText        // texts no credential may appear in
	explicit map[string]string // credential → kind, registered by hand
	answers  runtest.Buffer    // bodies of http.DefaultClient's answers
}

// addSource adds a text that may carry credentials to the tests.
func (l *leakScan) addSource(name string, text func() string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sources = append(l.sources, leakText{name: name, text: text})
}

// addSink adds a text no credential may appear in; kind says what its
// lines are, for the summary.
func (l *leakScan) addSink(kind, name string, text func() string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.sinks = append(l.sinks, leakText{kind, name, text})
}

// register adds a credential the harvest would not recognise.
func (l *leakScan) register(kind, value string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.explicit == nil {
		l.explicit = map[string]string{}
	}
	l.explicit[value] = kind
}

// credentialRE matches oauthd's credential formats (server/credential);
// tokens and API keys are then checked with credential.Parse.
var credentialRE = regexp.MustCompile(`\b(?:ocs_[A-Za-z0-9_-]{43}|oadm_[A-Za-z0-9_-]{43}|(?:oat|oak)_[A-Za-z0-9.~-]{1,128}_[0-9a-z]{1,13}_[A-Za-z0-9_-]{43,44})`)

func credentialKind(v string) string {
	switch {
	case strings.HasPrefix(v, credential.SecretPrefix):
		return "client secret"
	case strings.HasPrefix(v, credential.AdminKeyPrefix):
		return "admin key"
	}
	if _, ok := credential.Parse(v); !ok {
		return ""
	}
	if strings.HasPrefix(v, credential.APIKeyPrefix) {
		return "API key"
	}
	return "access token"
}

// randomPart is a credential's random part: the last 43 characters, or
// a token's or API key's after its client_id and bucket (44, or 43 in the
// earlier format).
func randomPart(v string) string {
	if strings.HasPrefix(v, credential.TokenPrefix) || strings.HasPrefix(v, credential.APIKeyPrefix) {
		_, rest, _ := strings.Cut(v[len(credential.TokenPrefix):], "_") // past the client_id
		_, random, _ := strings.Cut(rest, "_")                          // past the bucket
		return random
	}
	return v[len(v)-43:]
}

// needle is one encoding of one credential to look for.
type needle struct {
	text, encoding string
	cred           *found
}

type found struct{ kind, value string }

// needles lists the forms a credential takes in a careless line: as is;
// its random part alone (a prefix trimmed off); URL-encoded; in Base64,
// as inside an HTTP Basic header. Base64 of "id:secret" holds, whatever
// the id's length, the encoding of the secret from one of its first three
// bytes, cut to whole 3-byte groups; all three are looked for.
func needles(c *found) []needle {
	out := []needle{{c.value, "raw", c}}
	if credentialKind(c.value) != "" {
		out = append(out, needle{randomPart(c.value), "its random part", c})
	}
	if q := url.QueryEscape(c.value); q != c.value {
		out = append(out, needle{q, "URL-encoded", c})
	}
	for j := 0; j < 3 && len(c.value)-j >= 12; j++ {
		part := []byte(c.value[j:])
		part = part[:len(part)/3*3]
		out = append(out, needle{base64.StdEncoding.EncodeToString(part), "Base64, as in HTTP Basic", c})
		if u := base64.URLEncoding.EncodeToString(part); u != out[len(out)-1].text {
			out = append(out, needle{u, "Base64url", c})
		}
	}
	return out
}

// leakFinding is one credential found in one text. Its String shows the
// credential's first characters only: the report must not leak it again.
type leakFinding struct {
	kind, prefix, encoding, where string
	line                          int
}

func (f leakFinding) String() string {
	return fmt.Sprintf("%s %s… (%s) in %s, line %d", f.kind, f.prefix, f.encoding, f.where, f.line)
}

// scan harvests the credentials and looks for them in every sink.
func (l *leakScan) scan() ([]leakFinding, string) {
	l.mu.Lock()
	sources := append([]leakText{{name: "HTTP answers", text: l.answers.String}}, l.sources...)
	sinks := append([]leakText(nil), l.sinks...)
	creds := map[string]*found{}
	for v, kind := range l.explicit {
		creds[v] = &found{kind, v}
	}
	l.mu.Unlock()

	for _, src := range sources {
		for _, v := range credentialRE.FindAllString(src.text(), -1) {
			if kind := credentialKind(v); kind != "" && creds[v] == nil {
				creds[v] = &found{kind, v}
			}
		}
	}
	// Index every needle by its first keyLen bytes, so each sink is read
	// once however many credentials there are.
	const keyLen = 12
	index := map[string][]needle{}
	for _, c := range creds {
		for _, n := range needles(c) {
			if len(n.text) >= keyLen {
				index[n.text[:keyLen]] = append(index[n.text[:keyLen]], n)
			}
		}
	}
	var out []leakFinding
	seen := map[string]bool{}
	lines := map[string]int{}
	for _, sink := range sinks {
		text := sink.text()
		lines[sink.kind] += strings.Count(text, "\n")
		for i := 0; i+keyLen <= len(text); i++ {
			for _, n := range index[text[i:i+keyLen]] {
				key := n.cred.value + "\x00" + sink.name
				if !strings.HasPrefix(text[i:], n.text) || seen[key] {
					continue
				}
				seen[key] = true
				out = append(out, leakFinding{
					kind: n.cred.kind, prefix: n.cred.value[:min(10, len(n.cred.value)/3)], encoding: n.encoding,
					where: sink.name, line: strings.Count(text[:i], "\n") + 1,
				})
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	kinds := map[string]int{}
	for _, c := range creds {
		kinds[c.kind]++
	}
	return out, fmt.Sprintf("%d credentials %v looked for in %d texts: %v", len(creds), kinds, len(sinks), lines)
}

// harvestTransport copies the body of every answer into a buffer the
// scan harvests credentials from.
type harvestTransport struct {
	next http.RoundTripper
	into *runtest.Buffer
}

func (h harvestTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := h.next.RoundTrip(r)
	if err == nil {
		resp.Body = &harvestBody{ReadCloser: resp.Body, into: h.into}
	}
	return resp, err
}

// harvestBody keeps what is read and hands it over whole, at the end of
// the body or on Close, so answers read concurrently do not interleave.
type harvestBody struct {
	io.ReadCloser
	into *runtest.Buffer
	buf  bytes.Buffer
	once sync.Once
}

func (b *harvestBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.buf.Write(p[:n])
	if err == io.EOF {
		b.flush()
	}
	return n, err
}

func (b *harvestBody) Close() error {
	b.flush()
	return b.ReadCloser.Close()
}

func (b *harvestBody) flush() {
	b.once.Do(func() {
		b.buf.WriteByte('\n')
		_, _ = b.into.Write(b.buf.Bytes())
	})
}

// startScannedRedis is redistest.Start whose audit stream joins the scan: read
// at the end of the test, after the oauthd processes it started have
// stopped and before the Redis does, or when the test stops it early.
func startScannedRedis(t *testing.T, kind redistest.Kind) *redistest.Server {
	t.Helper()
	rs := redistest.Start(t, kind)
	var once sync.Once
	collect := func() { once.Do(func() { leaks.addEvents(t, rs.Addr) }) }
	t.Cleanup(collect)
	stop := rs.Stop
	rs.Stop = func() { collect(); stop() }
	return rs
}

// addEvents reads every stream in the Redis at addr (the audit log) into
// a sink.
func (l *leakScan) addEvents(t *testing.T, addr string) {
	ctx := context.Background()
	c := goredis.NewClient(&goredis.Options{Addr: addr})
	defer c.Close()
	keys, err := c.Keys(ctx, "*").Result()
	if err != nil {
		t.Errorf("leak scan: listing the keys of the Redis at %s: %v", addr, err)
		return
	}
	var b strings.Builder
	for _, k := range keys {
		if typ, err := c.Type(ctx, k).Result(); err != nil || typ != "stream" {
			continue
		}
		msgs, err := c.XRange(ctx, k, "-", "+").Result()
		if err != nil {
			t.Errorf("leak scan: reading stream %s: %v", k, err)
			return
		}
		for _, m := range msgs {
			fmt.Fprintf(&b, "%s %s %v\n", k, m.ID, m.Values)
		}
	}
	text := b.String()
	l.addSink("audit events", "the audit events of "+t.Name(), func() string { return text })
}

// TestLeakScanFindsPlantedLeaks: the scan can fail. Each credential,
// planted in a log line in one of the forms a careless line would use, is
// found and named by kind without being printed whole; a log holding only
// what may be logged (ids, prefixes, digests) is clean.
func TestLeakScanFindsPlantedLeaks(t *testing.T) {
	t.Parallel()
	secret := credential.NewSecret()
	token, _ := credential.NewToken("4jibxb7jrdidojsbxotxpeutxw", 1_763_900_000)
	apiKey, _ := credential.NewAPIKey("kc-billing", 1_763_900_000)
	adminKey := credential.NewAdminKey()
	imported := "s3cret/with+chars=0123456789"
	answer := `{"client_id":"4jibxb7jrdidojsbxotxpeutxw","client_secret":"` + secret + `"}` + "\n" +
		`{"access_token":"` + token + `","token_type":"Bearer"}` + "\n" +
		`{"jti":"x","api_key":"` + apiKey + `"}` + "\n" +
		"Admin API key:\n  curl -H 'Authorization: Bearer " + adminKey + "'\n"
	basic := func(id, s string) string { return base64.StdEncoding.EncodeToString([]byte(id + ":" + s)) }
	tests := []struct {
		name, log, kind, encoding string
	}{
		{"secret in a JSON line", `{"msg":"request","client_secret":"` + secret + `"}`, "client secret", "raw"},
		{"Basic header, id of 26", `{"authorization":"Basic ` + basic("4jibxb7jrdidojsbxotxpeutxw", secret) + `"}`, "client secret", "Base64, as in HTTP Basic"},
		{"Basic header, id of 1", `Authorization: Basic ` + basic("a", secret), "client secret", "Base64, as in HTTP Basic"},
		{"Basic header, id of 2", `Authorization: Basic ` + basic("ab", secret), "client secret", "Base64, as in HTTP Basic"},
		{"token", `{"msg":"token issued","token":"` + token + `"}`, "access token", "raw"},
		{"token without its prefix", `{"token":"` + randomPart(token) + `"}`, "access token", "its random part"},
		{"API key in the URL", `{"path":"/v1/sms?api_key=` + url.QueryEscape(apiKey) + `"}`, "API key", "raw"},
		{"admin key", `{"authorization":"Bearer ` + adminKey + `"}`, "admin key", "raw"},
		{"imported secret URL-encoded", `{"body":"client_secret=` + url.QueryEscape(imported) + `"}`, "imported client secret", "URL-encoded"},
		{"imported secret", `{"secret":"` + imported + `"}`, "imported client secret", "raw"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			l := &leakScan{}
			l.addSource("an answer", func() string { return answer })
			l.register("imported client secret", imported)
			l.addSink("log lines", "the log", func() string { return "first line\n" + tt.log + "\n" })
			got, _ := l.scan()
			if len(got) == 0 {
				t.Fatalf("no leak found in %q", tt.log)
			}
			if got[0].kind != tt.kind || got[0].encoding != tt.encoding || got[0].where != "the log" || got[0].line != 2 {
				t.Errorf("found %v, want the %s (%s) in the log, line 2", got, tt.kind, tt.encoding)
			}
			for _, f := range got {
				msg := f.String()
				for _, c := range []string{secret, token, apiKey, adminKey, imported, secret[4:24], randomPart(token)} {
					if strings.Contains(msg, c) {
						t.Fatalf("the report %q repeats the credential", msg)
					}
				}
			}
		})
	}
	// What may be logged: client ids, prefixes, digests, a wrong secret.
	l := &leakScan{}
	l.addSource("an answer", func() string { return answer })
	l.addSink("log lines", "the log", func() string {
		return fmt.Sprintf(`{"client_id":"4jibxb7jrdidojsbxotxpeutxw","jti":"x","actor":"admin-key:%x","secret":"ocs_wrong","token":"%s…"}`,
			credential.NewID(), token[:12]) + "\n"
	})
	if got, stats := l.scan(); len(got) != 0 || !strings.Contains(stats, "4 credentials") {
		t.Fatalf("clean log: found %v (%s)", got, stats)
	}
}
