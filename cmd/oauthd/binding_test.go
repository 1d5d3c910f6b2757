package main

import (
	"bytes"
	"log/slog"
	"testing"
	"time"
)

// The dpop.* and fapi.* keys reach the server's BindingConfig; replicas
// with one sealing key derive one nonce key, which is not the sealing key.
func TestBindingConfig(t *testing.T) {
	t.Parallel()
	sealing := bytes.Repeat([]byte{7}, 32)
	var b bindingConfig
	b.DPoP.MaxAge, b.DPoP.Leeway, b.DPoP.RequireNonce, b.DPoP.NonceLifetime = 30*time.Second, time.Second, true, time.Minute
	b.FAPI.Default, b.FAPI.MaxTokenLifetime = true, 5*time.Minute
	if err := b.validate(); err != nil {
		t.Fatal(err)
	}
	log := slog.New(slog.DiscardHandler)
	one := b.server(&Config{sealingKey: sealing}, log)
	two := b.server(&Config{sealingKey: bytes.Clone(sealing)}, log)
	if len(one.NonceKey) != 32 || !bytes.Equal(one.NonceKey, two.NonceKey) || bytes.Equal(one.NonceKey, sealing) {
		t.Errorf("nonce keys %x and %x from one sealing key", one.NonceKey, two.NonceKey)
	}
	if !one.RequireNonce || one.DPoPMaxAge != 30*time.Second || one.NoncePeriod != time.Minute || !one.FAPIDefault || one.FAPIMaxLifetime != 5*time.Minute || one.TLS {
		t.Errorf("BindingConfig = %+v", one)
	}
	if none := b.server(&Config{}, log); none.NonceKey != nil {
		t.Errorf("a nonce key without a sealing key: %x", none.NonceKey)
	}
}

// fapi.max_token_lifetime is refused outside 1s to 1h.
func TestFAPIMaxTokenLifetimeValidated(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		life time.Duration
		ok   bool
	}{{0, false}, {time.Second, true}, {10 * time.Minute, true}, {time.Hour, true}, {time.Hour + time.Second, false}} {
		var b bindingConfig
		b.DPoP.MaxAge, b.DPoP.NonceLifetime, b.FAPI.MaxTokenLifetime = time.Minute, time.Minute, tt.life
		if err := b.validate(); (err == nil) != tt.ok {
			t.Errorf("fapi.max_token_lifetime %v: %v, want ok %v", tt.life, err, tt.ok)
		}
	}
}
