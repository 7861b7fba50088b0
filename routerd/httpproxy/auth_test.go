package httpproxy

import (
	"net/http"
	"strings"
	"testing"

	"golang.org/x/crypto/bcrypt"
)

// Vectors of "Unix crypt using SHA-256 and SHA-512" (Drepper), which
// openssl passwd -5/-6 and glibc's crypt reproduce.
func TestSHACryptVectors(t *testing.T) {
	for _, tc := range []struct{ setting, pass, want string }{
		{"$5$saltstring", "Hello world!", "$5$saltstring$5B8vYYiY.CVt1RlTTf8KbXBH3hsxY/GNooZaBBGWEc5"},
		{"$5$rounds=10000$saltstringsaltstring", "Hello world!", "$5$rounds=10000$saltstringsaltst$3xv.VbSHBb41AL9AvLeujZkZRBAwqFMz2.opqey6IcA"},
		{"$5$rounds=10$roundstoolow", "the minimum number is still observed", "$5$rounds=1000$roundstoolow$yfvwcWrQ8l/K0DAWyuPMDNHpIVlTQebY9l/gL972bIC"},
		{"$6$saltstring", "Hello world!", "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1"},
		{"$6$rounds=10000$saltstringsaltstring", "Hello world!", "$6$rounds=10000$saltstringsaltst$OW1/O6BYHV6BcXZu8QVeXbDWra3Oeqh0sbHbbMCVNSnCM/UrjmM0Dp8vOuZeHBy/YTBmSK6H9qs/y3RnOaw5v."},
		{"$6$rounds=1400$anotherlongsaltstring", "a very much longer text to encrypt.  This one even stretches over morethan one line.", "$6$rounds=1400$anotherlongsalts$POfYwTEok97VWcjxIiSOjiykti.o/pQs.wPvMxQ6Fm7I6IoYN3CmLs66x9t0oSwbtEW7o7UmJEiDwGqd8p4ur1"},
	} {
		got, err := shaCrypt(tc.pass, tc.setting)
		if err != nil || got != tc.want {
			t.Errorf("shaCrypt(%q, %q) = %q, %v; want %q", tc.pass, tc.setting, got, err, tc.want)
		}
	}
}

func TestBasicAuth(t *testing.T) {
	bc, err := bcrypt.GenerateFromPassword([]byte("s3cret"), bcrypt.MinCost)
	if err != nil {
		t.Fatal(err)
	}
	be := newBackend(t, "be", nil)
	hashes := map[string]string{
		"bcrypt2a": string(bc),
		"bcrypt2b": "$2b$" + string(bc[4:]),
		"bcrypt2y": "$2y$" + string(bc[4:]),
		// openssl passwd -6 -salt saltstring 'Hello world!'
		"sha512": "$6$saltstring$svn8UoSVapNtMuq1ukKS4tPQd8iKwSMHWjl/O817G3uBnIFNjnQJuesI68u4OTLiBFdcbYEdFCoEOfaS35inz1",
		"md5":    "$1$saltstri$YMyguxXMBpd2TEZ.vS/3q1",
	}
	pass := map[string]string{"bcrypt2a": "s3cret", "bcrypt2b": "s3cret", "bcrypt2y": "s3cret", "sha512": "Hello world!", "md5": "x"}
	var specs []appSpec
	for name, hash := range hashes {
		specs = append(specs, appSpec{id: "/" + name, servicePort: 10000 + len(specs),
			labels: withLabels(vhost(name), "HAPROXY_0_AUTH", "Corral Realm:admin:"+hash), backends: []string{be.addr()}})
	}
	h := newHarness(t, DefaultConfig(), buildTable(t, 1, specs...))
	for name := range hashes {
		do := func(user, pw string) (int, *http.Response) {
			req, _ := http.NewRequest("GET", "http://"+h.edge+"/", nil)
			req.Host = name
			if user != "" {
				req.SetBasicAuth(user, pw)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			return resp.StatusCode, resp
		}
		code, resp := do("", "")
		if code != 401 || resp.Header.Get("WWW-Authenticate") != `Basic realm="Corral Realm"` {
			t.Errorf("%s without credentials = %d %q, want 401 with the realm", name, code, resp.Header.Get("WWW-Authenticate"))
		}
		if code, _ := do("admin", "wrong"); code != 401 {
			t.Errorf("%s with a wrong password = %d, want 401", name, code)
		}
		if code, _ := do("other", pass[name]); code != 401 {
			t.Errorf("%s with a wrong user = %d, want 401", name, code)
		}
		want := 200
		if strings.HasPrefix(hashes[name], "$1$") {
			want = 401 // unsupported: refused, and logged
		}
		for i := 0; i < 2; i++ { // the second one from the cache
			if code, _ := do("admin", pass[name]); code != want {
				t.Errorf("%s with the password = %d, want %d", name, code, want)
			}
		}
	}
}
