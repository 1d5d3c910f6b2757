package oauthclient_test

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/pem"
	"log"
	"os"
	"strings"

	"golang.org/x/oauth2"

	"github.com/oauthd/oauthd/server/oauthclient"
)

// A daemon that authenticates with its private key and asks for
// DPoP-bound tokens: HTTPClient presents each token with a fresh proof.
func Example() {
	pemBytes, err := os.ReadFile("/etc/sms-sender/key.pem") // PKCS #8: ECDSA P-256, Ed25519 or RSA
	if err != nil {
		log.Fatal(err)
	}
	block, _ := pem.Decode(pemBytes)
	if block == nil {
		log.Fatal("key.pem holds no PEM block")
	}
	key, err := x509.ParsePKCS8PrivateKey(block.Bytes)
	if err != nil {
		log.Fatal(err)
	}
	// The DPoP key lives as long as the process: tokens are renewed with it.
	dpopKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		log.Fatal(err)
	}
	c, err := oauthclient.New(oauthclient.Config{
		TokenURL: "https://auth.example.com/oauth/token",
		ClientID: "4jibxb7jrdidojsbxotxpeutxw",
		Key:      key.(crypto.Signer),
		KeyID:    "sms-sender-2026",
		DPoPKey:  dpopKey,
		Scopes:   []string{"sms"},
	})
	if err != nil {
		log.Fatal(err)
	}
	res, err := c.HTTPClient().Post("https://sms.example.com/v1/sms", "application/json",
		strings.NewReader(`{"to":["+447700900123"],"text":"hello"}`))
	if err != nil {
		log.Fatal(err)
	}
	defer res.Body.Close()
	log.Println(res.Status)
}

// Code built on golang.org/x/oauth2 takes the client as a TokenSource.
// oauth2's own transport presents tokens as Bearer: fine without DPoPKey.
func ExampleClient_TokenSource() {
	c, err := oauthclient.New(oauthclient.Config{
		TokenURL:     "https://auth.example.com/oauth/token",
		ClientID:     "4jibxb7jrdidojsbxotxpeutxw",
		ClientSecret: os.Getenv("OAUTHD_CLIENT_SECRET"),
	})
	if err != nil {
		log.Fatal(err)
	}
	ctx := context.Background()
	hc := oauth2.NewClient(ctx, oauth2.ReuseTokenSource(nil, c.TokenSource(ctx)))
	_ = hc
}
