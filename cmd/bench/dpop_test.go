package main

import (
	"bufio"
	"bytes"
	"crypto"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"
)

// The file a DPoP run reads: one proof a line, each by the token's key,
// for the request wrk sends, with the token's hash, and no two alike (the
// server accepts each once).
func TestWriteProofs(t *testing.T) {
	d, err := newDPoP()
	if err != nil {
		t.Fatal(err)
	}
	const uri, token, n = "http://127.0.0.1:40947/v1/groups", "bench-token", 7
	path := filepath.Join(t.TempDir(), "proofs.txt")
	if err := writeProofs(path, d, "GET", uri, token, n); err != nil {
		t.Fatal(err)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sum := sha256.Sum256([]byte(token))
	ath := base64.RawURLEncoding.EncodeToString(sum[:])
	jtis := map[string]bool{}
	lines := 0
	for sc := bufio.NewScanner(f); sc.Scan(); lines++ {
		jws, err := jose.ParseSigned(sc.Text(), []jose.SignatureAlgorithm{jose.ES256})
		if err != nil {
			t.Fatalf("line %d: %v", lines+1, err)
		}
		h := jws.Signatures[0].Protected
		if h.JSONWebKey == nil || h.ExtraHeaders["typ"] != "dpop+jwt" {
			t.Fatalf("line %d: header %+v, want typ dpop+jwt and the key", lines+1, h)
		}
		if tp, _ := h.JSONWebKey.Thumbprint(crypto.SHA256); base64.RawURLEncoding.EncodeToString(tp) != d.Thumbprint() {
			t.Errorf("line %d: signed by another key than the token's", lines+1)
		}
		payload, err := jws.Verify(h.JSONWebKey)
		if err != nil {
			t.Fatalf("line %d: %v", lines+1, err)
		}
		var c struct{ JTI, HTM, HTU, ATH string }
		if err := json.Unmarshal(payload, &c); err != nil {
			t.Fatal(err)
		}
		if c.HTM != "GET" || c.HTU != uri || c.ATH != ath || c.JTI == "" || jtis[c.JTI] {
			t.Errorf("line %d: claims %+v, want htm GET, htu %s, ath %s and a jti of its own", lines+1, c, uri, ath)
		}
		jtis[c.JTI] = true
	}
	if lines != n {
		t.Errorf("%d lines, want %d", lines, n)
	}
}

func TestProofsPerRun(t *testing.T) {
	pc := proofCheck{cost: 100 * time.Microsecond, cores: 2} // 20,000 checks a second
	tests := []struct {
		name string
		o    options
		pc   proofCheck
		want int
	}{
		{"the ceiling and half again, per second", options{Duration: 5 * time.Second, Warmup: time.Second}, pc, 150_000},
		{"a warm-up longer than a run", options{Duration: time.Second, Warmup: 3 * time.Second}, pc, 90_000},
		{"-proofs wins", options{Duration: 5 * time.Second, Proofs: 1000}, pc, 1000},
		{"a fast machine is capped", options{Duration: time.Second}, proofCheck{cost: time.Microsecond, cores: 64}, maxProofRate},
	}
	for _, tt := range tests {
		if got := proofsPerRun(tt.o, tt.pc); got != tt.want {
			t.Errorf("%s: %d, want %d", tt.name, got, tt.want)
		}
	}
}

// The arithmetic beside the DPoP line says when the target is out of
// reach, and why: on 2 cores at 89us a check, half of 50,000 req/s needs
// 2.2 cores of signatures; half of 30,000 fits them, but not sms-api's
// whole CPU per request.
func TestDPoPArithmetic(t *testing.T) {
	pc := proofCheck{cost: 89 * time.Microsecond, cores: 2}
	cmp := func(bare float64, cpu time.Duration) []*comparison {
		return []*comparison{{name: dpopMiddleware, minRatio: 0.5,
			baseRuns:    series{{RPS: bare, Requests: 1}},
			subjectRuns: series{{RPS: 8000, Requests: 1000, CPU: 1000 * cpu}}}}
	}
	tests := []struct {
		name string
		cmps []*comparison
		want []string
	}{
		{"the signatures alone", cmp(50_000, 170*time.Microsecond), []string{"11236 checks/s per core, 22472 on 2 cores",
			"is 25000 DPoP req/s: 2.23 cores of signature checks alone, 4.25 at sms-api's 170.0us",
			"out of reach on this machine: the signatures alone", "measured 8000 req/s (0.16x): 0.71 cores of signature checks of sms-api's 1.36 (the signature 52%"}},
		{"sms-api's CPU", cmp(30_000, 170*time.Microsecond), []string{"1.33 cores of signature checks alone, 2.55 at", "out of reach on this machine at sms-api's CPU"}},
		{"within reach", cmp(10_000, 170*time.Microsecond), []string{"within reach in CPU"}},
		{"CPU unreadable", cmp(10_000, 0), []string{"0.45 cores of signature checks alone, of 2 (shared with wrk): within reach"}},
		{"not measured", nil, []string{"on 2 cores doing nothing else\n"}},
	}
	for _, tt := range tests {
		var b bytes.Buffer
		dpopArithmetic(&b, pc, tt.cmps)
		if lines := strings.Count(b.String(), "\n"); tt.cmps == nil && lines != 1 || tt.cmps != nil && lines != 3 {
			t.Errorf("%s: %d lines", tt.name, lines)
		}
		for _, w := range tt.want {
			if !strings.Contains(b.String(), w) {
				t.Errorf("%s: no %q in\n%s", tt.name, w, b.String())
			}
		}
	}
}
