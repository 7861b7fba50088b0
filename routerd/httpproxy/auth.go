package httpproxy

import (
	"bytes"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/valyala/fasthttp"
	"golang.org/x/crypto/bcrypt"

	"corral/routerd/route"
)

// authenticator checks HTTP basic credentials against a service's
// HAPROXY_{n}_AUTH, whose password is crypt(3)-hashed as HAProxy's
// userlists take it: bcrypt ($2a$, $2b$, $2y$) or SHA-crypt ($5$, $6$).
type authenticator struct {
	user      string
	hash      string
	scheme    int    // 0: unsupported, every request is refused
	challenge string // WWW-Authenticate value
	// last holds SHA-256 of the last credentials that matched, so a
	// client sending them again skips the deliberately slow hash.
	last atomic.Pointer[[32]byte]
}

const (
	schemeNone = iota
	schemeBcrypt
	schemeSHACrypt
)

// newAuthenticator returns the authenticator of a; with an error saying
// why when the hash is not supported (it then refuses every request).
func newAuthenticator(a *route.BasicAuth) (*authenticator, error) {
	au := &authenticator{user: a.User, hash: a.Hash, challenge: "Basic realm=" + strconv.Quote(a.Realm)}
	switch {
	case strings.HasPrefix(a.Hash, "$2a$"), strings.HasPrefix(a.Hash, "$2b$"), strings.HasPrefix(a.Hash, "$2y$"):
		if _, err := bcrypt.Cost([]byte(a.Hash)); err != nil {
			return au, errors.New("invalid bcrypt hash")
		}
		au.scheme = schemeBcrypt
	case strings.HasPrefix(a.Hash, "$5$"), strings.HasPrefix(a.Hash, "$6$"):
		if _, err := shaCrypt("", a.Hash); err != nil {
			return au, err
		}
		au.scheme = schemeSHACrypt
	case strings.HasPrefix(a.Hash, "$1$"):
		return au, errors.New("MD5-crypt ($1$) is not supported, use mkpasswd -m sha-512 or bcrypt")
	default:
		return au, errors.New("unknown hash scheme, use mkpasswd -m sha-512 or bcrypt")
	}
	return au, nil
}

// allow reports whether the request carries the service's credentials.
func (a *authenticator) allow(ctx *fasthttp.RequestCtx) bool {
	if a == nil || a.scheme == schemeNone {
		return false
	}
	v := ctx.Request.Header.Peek("Authorization")
	if len(v) < 6 || !bytes.EqualFold(v[:6], []byte("basic ")) {
		return false
	}
	v = bytes.TrimSpace(v[6:])
	var arr [384]byte
	if base64.StdEncoding.DecodedLen(len(v)) > len(arr) {
		return false
	}
	n, err := base64.StdEncoding.Decode(arr[:], v)
	if err != nil {
		return false
	}
	cred := arr[:n]
	i := bytes.IndexByte(cred, ':')
	if i < 0 || string(cred[:i]) != a.user {
		return false
	}
	sum := sha256.Sum256(cred)
	if last := a.last.Load(); last != nil && subtle.ConstantTimeCompare(last[:], sum[:]) == 1 {
		return true
	}
	pass := cred[i+1:]
	ok := false
	switch a.scheme {
	case schemeBcrypt:
		ok = bcrypt.CompareHashAndPassword([]byte(a.hash), pass) == nil
	case schemeSHACrypt:
		got, err := shaCrypt(string(pass), a.hash)
		ok = err == nil && subtle.ConstantTimeCompare([]byte(got), []byte(a.hash)) == 1
	}
	if ok {
		a.last.Store(&sum)
	}
	return ok
}
