package httpauth

import (
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestCheck(t *testing.T) {
	for _, tc := range []struct{ creds, want string }{
		{"", ""},
		{"admin:pw", ""},
		{"admin:p:w", ""},
		{"admin", "must be user:password"},
		{":pw", "empty user"},
		{"admin:", "empty password"},
	} {
		err := Check("--http-credentials", tc.creds)
		if (err == nil) != (tc.want == "") || (err != nil && (!strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), "--http-credentials"))) {
			t.Errorf("Check(%q) = %v, want an error saying %q naming the flag", tc.creds, err, tc.want)
		}
	}
}

func TestBasic(t *testing.T) {
	h := Basic("admin:s3cr:et", "mesos", func(r *http.Request) bool { return r.URL.Path == "/health" },
		http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusTeapot) }))
	for _, tc := range []struct {
		name, path, user, pass string
		want                   int
	}{
		{"anonymous", "/master/state", "", "", http.StatusUnauthorized},
		{"wrong password", "/master/state", "admin", "s3cr", http.StatusUnauthorized},
		{"wrong user", "/master/state", "root", "s3cr:et", http.StatusUnauthorized},
		{"right", "/master/state", "admin", "s3cr:et", http.StatusTeapot},
		{"anonymous probe", "/health", "", "", http.StatusTeapot},
		{"anything mounted later", "/metrics", "", "", http.StatusUnauthorized},
	} {
		req := httptest.NewRequest("GET", tc.path, nil)
		if tc.user != "" {
			req.SetBasicAuth(tc.user, tc.pass)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if rec.Code != tc.want {
			t.Errorf("%s: GET %s = %d, want %d", tc.name, tc.path, rec.Code, tc.want)
		}
		if rec.Code == http.StatusUnauthorized && rec.Header().Get("WWW-Authenticate") != `Basic realm="mesos"` {
			t.Errorf("%s: WWW-Authenticate %q", tc.name, rec.Header().Get("WWW-Authenticate"))
		}
	}
}

func TestBearer(t *testing.T) {
	for _, tc := range []struct {
		header, token string
		ok            bool
	}{
		{"Bearer abc", "abc", true},
		{"bearer abc", "abc", true},
		{"Basic abc", "", false},
		{"", "", false},
		{"Bearerabc", "", false},
	} {
		req := httptest.NewRequest("POST", "/", nil)
		req.Header.Set("Authorization", tc.header)
		if token, ok := Bearer(req); token != tc.token || ok != tc.ok {
			t.Errorf("Bearer(%q) = %q, %v; want %q, %v", tc.header, token, ok, tc.token, tc.ok)
		}
	}
}

func TestReadSecret(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) string {
		p := filepath.Join(dir, name)
		os.WriteFile(p, []byte(content), 0o600)
		return p
	}
	if s, err := ReadSecret("--secret-file", write("ok", "  s3cret\n")); s != "s3cret" || err != nil {
		t.Errorf("ReadSecret(ok) = %q, %v", s, err)
	}
	if s, err := ReadSecret("--secret-file", ""); s != "" || err != nil {
		t.Errorf("ReadSecret(\"\") = %q, %v; want no secret", s, err)
	}
	for name, content := range map[string]string{"empty": "\n", "two lines": "a\nb\n"} {
		if _, err := ReadSecret("--secret-file", write(name, content)); err == nil || !strings.Contains(err.Error(), "invalid --secret-file") {
			t.Errorf("ReadSecret(%s) = %v, want a flag error", name, err)
		}
	}
	if _, err := ReadSecret("--secret-file", filepath.Join(dir, "missing")); err == nil {
		t.Error("ReadSecret(missing) succeeded")
	}
}

// BenchmarkBearerCheck is what agent authentication adds to every agent
// call: reading the header and comparing the secret in constant time.
func BenchmarkBearerCheck(b *testing.B) {
	const secret = "0c3b0b0a8eacd26cac7f945ce80d351164e7726eed24ef5fe1c890de00eb77f8"
	req := httptest.NewRequest("POST", "/api/v1/agent", nil)
	req.Header.Set("Authorization", "Bearer "+secret)
	for b.Loop() {
		token, ok := Bearer(req)
		if !ok || !Equal(secret, token) {
			b.Fatal("refused")
		}
	}
}
