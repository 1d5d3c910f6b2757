package redis

import (
	"crypto/tls"
	"strings"
	"testing"
	"time"

	goredis "github.com/redis/go-redis/v9"
)

func TestOpen(t *testing.T) {
	t.Parallel()
	myTLS := &tls.Config{ServerName: "redis.internal", MinVersion: tls.VersionTLS12}
	tests := []struct {
		name    string
		cfg     ClientConfig
		err     string
		cluster bool
		check   func(t *testing.T, o *goredis.Options)
	}{
		{name: "url", cfg: ClientConfig{URL: "redis://10.0.0.1:6380/2"}, check: func(t *testing.T, o *goredis.Options) {
			if o.Addr != "10.0.0.1:6380" || o.DB != 2 || o.ReadTimeout != time.Second || o.DialTimeout != 2*time.Second || o.TLSConfig != nil {
				t.Errorf("options %+v", o)
			}
		}},
		{name: "url's own timeout wins", cfg: ClientConfig{URL: "redis://h:1?read_timeout=3s"}, check: func(t *testing.T, o *goredis.Options) {
			if o.ReadTimeout != 3*time.Second {
				t.Errorf("read timeout %v", o.ReadTimeout)
			}
		}},
		{name: "password setting over the url's", cfg: ClientConfig{URL: "redis://u:old@h:1", Username: "oauthd", Password: "new"}, check: func(t *testing.T, o *goredis.Options) {
			if o.Username != "oauthd" || o.Password != "new" {
				t.Errorf("credentials %q %q", o.Username, o.Password)
			}
		}},
		{name: "rediss with a private CA", cfg: ClientConfig{URL: "rediss://h:1", TLS: myTLS}, check: func(t *testing.T, o *goredis.Options) {
			if o.TLSConfig != myTLS {
				t.Errorf("TLS %+v", o.TLSConfig)
			}
		}},
		{name: "rediss alone", cfg: ClientConfig{URL: "rediss://h:1"}, check: func(t *testing.T, o *goredis.Options) {
			if o.TLSConfig == nil {
				t.Error("no TLS for rediss://")
			}
		}},
		{name: "sentinel", cfg: ClientConfig{SentinelMaster: "mymaster", SentinelAddrs: []string{"s1:26379", "s2:26379"}, Password: "p"}, check: func(t *testing.T, o *goredis.Options) {
			if o.Password != "p" {
				t.Errorf("password %q", o.Password)
			}
		}},
		{name: "cluster of one seed", cfg: ClientConfig{ClusterAddrs: []string{"c1:7000"}}, cluster: true},
		{name: "cluster", cfg: ClientConfig{ClusterAddrs: []string{"c1:7000", "c2:7000"}, TLS: myTLS}, cluster: true},
		{name: "sentinel without sentinels", cfg: ClientConfig{SentinelMaster: "m"}, err: "sentinels' addresses"},
		{name: "two topologies", cfg: ClientConfig{URL: "redis://h:1", ClusterAddrs: []string{"c:1"}}, err: "one of"},
		{name: "bad address", cfg: ClientConfig{ClusterAddrs: []string{"c1"}}, err: "not host:port"},
		{name: "bad url", cfg: ClientConfig{URL: "http://h:1"}, err: "scheme"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := Open(tt.cfg)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			switch cc := c.(type) {
			case *goredis.ClusterClient:
				if !tt.cluster {
					t.Fatal("a cluster client for a non-cluster config")
				}
				if o := cc.Options(); o.ReadTimeout != time.Second || o.TLSConfig != tt.cfg.TLS || o.ClusterStateReloadInterval != clusterReload {
					t.Errorf("cluster options %+v", o)
				}
			case *goredis.Client:
				if tt.cluster {
					t.Fatal("a single-node client for a cluster config")
				}
				tt.check(t, cc.Options())
			default:
				t.Fatalf("client %T", c)
			}
		})
	}
}
