package redis

import (
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"time"

	goredis "github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// ClientConfig says how to reach Redis: exactly one of URL (one node),
// SentinelMaster with SentinelAddrs (a primary found through Sentinel) or
// ClusterAddrs (Redis Cluster). The store's keys share a {client_id} hash
// tag per application, so one code path serves all three.
type ClientConfig struct {
	// URL is redis://[user:password@]host:port[/db] or rediss:// for TLS;
	// go-redis query options such as ?read_timeout=2s apply.
	URL string
	// SentinelMaster is the name of the primary the sentinels watch.
	SentinelMaster string
	// SentinelAddrs are the sentinels' host:port.
	SentinelAddrs []string
	// SentinelPassword authenticates to the sentinels (requirepass of
	// sentinel.conf), which is often not the data nodes' password.
	SentinelPassword string
	// ClusterAddrs are some of the cluster's nodes; the rest are found.
	ClusterAddrs []string
	// Username and Password authenticate to the data nodes (ACL user, or
	// the default user when Username is empty). They override the URL's.
	Username, Password string
	// TLS, when set, is used for every connection (data nodes and
	// sentinels); for a rediss:// URL it replaces go-redis's default, so a
	// private CA or a client certificate can be given.
	TLS *tls.Config
}

// Topology names the kind of deployment a ClientConfig describes.
func (c ClientConfig) Topology() string {
	switch {
	case c.SentinelMaster != "":
		return "sentinel"
	case len(c.ClusterAddrs) > 0:
		return "cluster"
	}
	return "single"
}

// NewClient opens a client for a redis:// or rediss:// URL.
func NewClient(url string) (goredis.UniversalClient, error) {
	return Open(ClientConfig{URL: url})
}

// Open returns a client for the configured deployment. It does not
// connect: the first command does, so a caller decides how long to wait.
//
// Timeouts are tightened from go-redis's defaults unless the URL sets
// them (e.g. ?read_timeout=2s): an authorization server should answer 503
// quickly when Redis is gone rather than hold every caller for seconds.
func Open(c ClientConfig) (goredis.UniversalClient, error) {
	var o goredis.UniversalOptions
	switch c.Topology() {
	case "sentinel":
		if c.URL != "" || len(c.ClusterAddrs) > 0 {
			return nil, errors.New("redis: give one of a URL, a Sentinel master or Cluster addresses")
		}
		if len(c.SentinelAddrs) == 0 {
			return nil, errors.New("redis: a Sentinel master needs the sentinels' addresses")
		}
		o.MasterName = c.SentinelMaster
		o.Addrs = c.SentinelAddrs
		o.SentinelPassword = c.SentinelPassword
	case "cluster":
		if c.URL != "" {
			return nil, errors.New("redis: give one of a URL, a Sentinel master or Cluster addresses")
		}
		o.Addrs = c.ClusterAddrs
		// One seed address is a cluster too (a configuration endpoint):
		// without this go-redis would treat it as a single node.
		o.IsClusterMode = true
	default:
		u, err := goredis.ParseURL(c.URL)
		if err != nil {
			return nil, err
		}
		o = fromOptions(u)
	}
	for _, a := range o.Addrs {
		if _, _, err := net.SplitHostPort(a); err != nil {
			return nil, fmt.Errorf("redis: %q is not host:port", a)
		}
	}
	if c.Username != "" {
		o.Username = c.Username
	}
	if c.Password != "" {
		o.Password = c.Password
	}
	if c.TLS != nil {
		o.TLSConfig = c.TLS
	}
	tighten(&o)
	if o.IsClusterMode {
		co := o.Cluster()
		// go-redis rereads the slot map on MOVED, but a primary that died
		// answers nothing: only the periodic reload (60s by default) would
		// notice that its replica was promoted. CLUSTER SLOTS every couple
		// of seconds is cheap and bounds that blind spot.
		co.ClusterStateReloadInterval = clusterReload
		return goredis.NewClusterClient(co), nil
	}
	return goredis.NewUniversalClient(&o), nil
}

// clusterReload is how often a cluster client rereads the slot map.
const clusterReload = 2 * time.Second

// fromOptions carries a parsed single-node URL over to the universal
// options, with every setting a URL can hold.
func fromOptions(u *goredis.Options) goredis.UniversalOptions {
	return goredis.UniversalOptions{
		Addrs:           []string{u.Addr},
		DB:              u.DB,
		Username:        u.Username,
		Password:        u.Password,
		TLSConfig:       u.TLSConfig,
		Protocol:        u.Protocol,
		ClientName:      u.ClientName,
		MaxRetries:      u.MaxRetries,
		MinRetryBackoff: u.MinRetryBackoff,
		MaxRetryBackoff: u.MaxRetryBackoff,
		DialTimeout:     u.DialTimeout,
		ReadTimeout:     u.ReadTimeout,
		WriteTimeout:    u.WriteTimeout,
		PoolFIFO:        u.PoolFIFO,
		PoolSize:        u.PoolSize,
		PoolTimeout:     u.PoolTimeout,
		MinIdleConns:    u.MinIdleConns,
		MaxIdleConns:    u.MaxIdleConns,
		MaxActiveConns:  u.MaxActiveConns,
		ConnMaxIdleTime: u.ConnMaxIdleTime,
		ConnMaxLifetime: u.ConnMaxLifetime,
	}
}

// tighten sets the timeouts left at zero (go-redis's defaults: 5s dial,
// 3s read and write, several retries) to ones that let a request fail
// within about a second when Redis is gone.
func tighten(o *goredis.UniversalOptions) {
	if o.DialTimeout == 0 {
		o.DialTimeout = 2 * time.Second
	}
	if o.ReadTimeout == 0 {
		o.ReadTimeout = time.Second
	}
	if o.WriteTimeout == 0 {
		o.WriteTimeout = time.Second
	}
	if o.PoolTimeout == 0 {
		o.PoolTimeout = 2 * time.Second
	}
	if o.MaxRetries == 0 {
		o.MaxRetries = 1
	}
	// go-redis retries a refused dial 5 times 100ms apart, then the command
	// retries: most of a second before a caller hears that Redis is down.
	o.DialerRetries = 2
	o.DialerRetryTimeout = 20 * time.Millisecond
	// Maintenance notifications are Redis Enterprise's and Cloud's. In
	// its default auto mode go-redis asks every new connection for them,
	// is refused by any other Redis, and then switches the mode off in
	// its options while other connections are being made: the race
	// detector caught that write racing their reads (v9.23.0, redis.go
	// initConn). Off from the start, nothing is asked and nothing races.
	if o.MaintNotificationsConfig == nil {
		o.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	}
}
