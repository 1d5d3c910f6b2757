package main

import (
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var dashURLRE = regexp.MustCompile(`Dashboard \(sign in with the admin key above\):\s+(http://\S+/dashboard/)`)

// The embedded default prints the dashboard's URL next to the admin key,
// and the key signs in there.
func TestEmbeddedDashboard(t *testing.T) {
	t.Parallel()
	p := startOAuthd(t, nil)
	out := p.Stdout.String()
	m := dashURLRE.FindStringSubmatch(out)
	key := regexp.MustCompile(`Bearer (oadm_\S+)'`).FindStringSubmatch(out)
	if m == nil || key == nil {
		t.Fatalf("no dashboard URL or admin key printed:\n%s", out)
	}
	if want := p.URL + "/dashboard/"; m[1] != want {
		t.Errorf("dashboard URL %q, want %q", m[1], want)
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar}
	base := p.URL + "/dashboard/"
	resp, err := c.Get(base + "signin")
	if err != nil {
		t.Fatal(err)
	}
	body := readAll(t, resp)
	csrf := regexp.MustCompile(`name="csrf" value="([^"]+)"`).FindStringSubmatch(body)
	if resp.StatusCode != 200 || csrf == nil {
		t.Fatalf("sign-in page: %d\n%s", resp.StatusCode, body)
	}
	resp, err = c.PostForm(base+"signin", url.Values{"csrf": {csrf[1]}, "method": {"key"}, "admin_key": {key[1]}})
	if err != nil {
		t.Fatal(err)
	}
	body = readAll(t, resp)
	if resp.StatusCode != 200 || !strings.Contains(body, "<h1>Overview</h1>") {
		t.Fatalf("after sign-in with the printed key: %d, want the overview\n%s", resp.StatusCode, body)
	}
	if resp, err = c.Get(base + "applications"); err != nil {
		t.Fatal(err)
	}
	if body = readAll(t, resp); !strings.Contains(body, ">demo</a>") || !strings.Contains(body, ">sms-api</a>") {
		t.Fatalf("the applications after sign-in: %d\n%s", resp.StatusCode, body)
	}
}

// With admin.addr the dashboard is on the admin listener and never on the
// public one; dashboard.enabled=false turns it off.
func TestDashboardListener(t *testing.T) {
	t.Parallel()
	p := startOAuthd(t, nil, "--admin-addr", "127.0.0.1:0")
	adminAddr := regexp.MustCompile(`"msg":"oauthd admin listening","addr":"([^"]+)"`).FindStringSubmatch(p.Logs.String())
	if adminAddr == nil {
		t.Fatalf("no admin listener logged:\n%s", p.Logs)
	}
	if code, _ := httpGet(t, p.URL+"/dashboard/signin"); code != 404 {
		t.Errorf("dashboard on the public listener: %d, want 404", code)
	}
	if code, body := httpGet(t, "http://"+adminAddr[1]+"/dashboard/signin"); code != 200 || !strings.Contains(body, "Sign in") {
		t.Errorf("dashboard on the admin listener: %d", code)
	}
	if code, _ := httpGet(t, "http://"+adminAddr[1]+"/admin/v1/applications"); code != 401 {
		t.Errorf("admin API beside the dashboard: %d, want 401 without a key", code)
	}
	m := dashURLRE.FindStringSubmatch(p.Stdout.String())
	_, port, _ := strings.Cut(adminAddr[1], ":")
	if m == nil || !strings.HasSuffix(m[1], ":"+port+"/dashboard/") {
		t.Errorf("printed dashboard URL %v, want the admin listener's port %s", m, port)
	}

	off := startOAuthd(t, map[string]string{"OAUTHD_DASHBOARD_ENABLED": "false"})
	if code, _ := httpGet(t, off.URL+"/dashboard/signin"); code != 404 {
		t.Errorf("dashboard.enabled=false: %d, want 404", code)
	}
	if strings.Contains(off.Stdout.String(), "/dashboard/") {
		t.Error("dashboard.enabled=false still prints the dashboard URL")
	}
}

func readAll(t *testing.T, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	var b strings.Builder
	buf := make([]byte, 32<<10)
	for {
		n, err := resp.Body.Read(buf)
		b.Write(buf[:n])
		if err != nil {
			break
		}
	}
	return b.String()
}

func TestDashboardSettingsValidated(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"--dashboard-session-idle", "10s"}, "config dashboard.session_idle: 10s: use between 1m and 24h"},
		{[]string{"--dashboard-session-idle", "1h", "--dashboard-session-max", "30m"}, "config dashboard.session_max: 30m: use between dashboard.session_idle (1h) and 168h"},
		{[]string{"--dashboard-session-max", "200h"}, "config dashboard.session_max"},
	} {
		_, err := runCLI(t, nil, append([]string{"serve"}, tt.args...)...)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%v: error %v, want %q", tt.args, err, tt.want)
		}
	}
}
