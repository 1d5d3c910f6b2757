//go:build faults

package main

import (
	"context"
	"testing"
	"time"

	"github.com/oauthd/oauthd/store"
	"github.com/oauthd/oauthd/store/redis"
)

// On Redis Cluster no transaction spans an application's slot and the
// feed stream's: the store writes each feed entry after its change.
// Every change must still reach a subscriber, in order.
func TestFaultClusterFeed(t *testing.T) {
	_, addrs := startCluster(t)
	rdb, err := redis.Open(redis.ClientConfig{ClusterAddrs: addrs})
	if err != nil {
		t.Fatal(err)
	}
	defer rdb.Close()
	ctx := context.Background()
	s := redis.New(rdb, redis.Options{Prefix: "oauthd", KeepExpired: time.Hour})
	f := s.NewFeed(redis.FeedOptions{Block: 100 * time.Millisecond})
	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { defer close(done); f.Run(fctx) }()
	defer func() { cancel(); <-done }()
	sub, err := f.Subscribe(ctx, "")
	if err != nil {
		t.Fatal(err)
	}
	defer sub.Close()

	now := time.Now()
	app := store.Application{ClientID: "clusterapp", Enabled: true, Scopes: []string{"sms", "groups"}, CreatedAt: now}
	if err := s.CreateApplication(ctx, app); err != nil {
		t.Fatal(err)
	}
	tok := store.Token{ClientID: app.ClientID, IssuedAt: now, ExpiresAt: now.Add(time.Hour)}
	ref := store.TokenRef{ClientID: app.ClientID, Bucket: tok.Bucket(), Digest: store.Sum("cluster-token")}
	if err := s.CreateToken(ctx, ref, tok); err != nil {
		t.Fatal(err)
	}
	if ok, err := s.RevokeToken(ctx, ref, time.Minute); !ok || err != nil {
		t.Fatalf("revoke: %v %v", ok, err)
	}
	if _, err := s.UpdateApplication(ctx, app.ClientID, func(a store.Application) (store.Application, error) {
		a.Enabled = false
		return a, nil
	}); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteApplication(ctx, app.ClientID); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{store.FeedTokenRevoked, store.FeedAppDisabled, store.FeedAppDeleted} {
		select {
		case ev := <-sub.Events():
			if ev.Kind != want || ev.ClientID != app.ClientID || (want == store.FeedTokenRevoked && ev.JTI != ref.JTI()) {
				t.Fatalf("got %+v, want %s", ev, want)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s event within 5s on Cluster", want)
		}
	}
}
