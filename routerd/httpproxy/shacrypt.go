package httpproxy

import (
	"crypto/sha256"
	"crypto/sha512"
	"errors"
	"hash"
	"strconv"
	"strings"
)

// shaCrypt computes the SHA-256 ($5$) or SHA-512 ($6$) crypt(3) hash of
// password with the settings of hash (prefix, optional rounds=N$, salt),
// as Ulrich Drepper's specification "Unix crypt using SHA-256 and
// SHA-512" defines it (glibc's crypt, mkpasswd -m sha-512, openssl passwd
// -6). It returns the whole hash string, to compare with the stored one.
func shaCrypt(password, setting string) (string, error) {
	var (
		newHash func() hash.Hash
		prefix  string
	)
	switch {
	case strings.HasPrefix(setting, "$5$"):
		newHash, prefix = sha256.New, "$5$"
	case strings.HasPrefix(setting, "$6$"):
		newHash, prefix = sha512.New, "$6$"
	default:
		return "", errors.New("not a SHA-crypt hash")
	}
	rest := setting[len(prefix):]
	rounds, explicit := 5000, false
	if strings.HasPrefix(rest, "rounds=") {
		end := strings.IndexByte(rest, '$')
		if end < 0 {
			return "", errors.New("rounds without salt")
		}
		n, err := strconv.ParseUint(rest[len("rounds="):end], 10, 32)
		if err != nil {
			return "", errors.New("invalid rounds")
		}
		rounds, explicit = int(min(max(n, 1000), 999999999)), true
		rest = rest[end+1:]
	}
	salt := rest
	if i := strings.IndexByte(salt, '$'); i >= 0 {
		salt = salt[:i]
	}
	if len(salt) > 16 {
		salt = salt[:16]
	}
	p, s := []byte(password), []byte(salt)

	b := newHash()
	b.Write(p)
	b.Write(s)
	b.Write(p)
	sumB := b.Sum(nil)

	a := newHash()
	a.Write(p)
	a.Write(s)
	a.Write(repeatTo(sumB, len(p)))
	for n := len(p); n > 0; n >>= 1 {
		if n&1 != 0 {
			a.Write(sumB)
		} else {
			a.Write(p)
		}
	}
	sumA := a.Sum(nil)

	dp := newHash()
	for range p {
		dp.Write(p)
	}
	pBytes := repeatTo(dp.Sum(nil), len(p))

	ds := newHash()
	for i := 0; i < 16+int(sumA[0]); i++ {
		ds.Write(s)
	}
	sBytes := repeatTo(ds.Sum(nil), len(s))

	c := sumA
	h := newHash()
	for i := 0; i < rounds; i++ {
		h.Reset()
		if i&1 != 0 {
			h.Write(pBytes)
		} else {
			h.Write(c)
		}
		if i%3 != 0 {
			h.Write(sBytes)
		}
		if i%7 != 0 {
			h.Write(pBytes)
		}
		if i&1 != 0 {
			h.Write(c)
		} else {
			h.Write(pBytes)
		}
		c = h.Sum(c[:0])
	}

	var out strings.Builder
	out.WriteString(prefix)
	if explicit {
		out.WriteString("rounds=" + strconv.Itoa(rounds) + "$")
	}
	out.WriteString(salt)
	out.WriteByte('$')
	if prefix == "$5$" {
		for k := 0; k < 10; k++ {
			x, y, z := c[k], c[k+10], c[k+20]
			switch k % 3 {
			case 1:
				x, y, z = z, x, y
			case 2:
				x, y, z = y, z, x
			}
			b64From24(&out, x, y, z, 4)
		}
		b64From24(&out, 0, c[31], c[30], 3)
	} else {
		for k := 0; k < 21; k++ {
			x, y, z := c[k], c[k+21], c[k+42]
			switch k % 3 {
			case 1:
				x, y, z = y, z, x
			case 2:
				x, y, z = z, x, y
			}
			b64From24(&out, x, y, z, 4)
		}
		b64From24(&out, 0, 0, c[63], 2)
	}
	return out.String(), nil
}

// repeatTo returns n bytes of sum repeated.
func repeatTo(sum []byte, n int) []byte {
	out := make([]byte, 0, n)
	for len(out) < n {
		out = append(out, sum[:min(len(sum), n-len(out))]...)
	}
	return out
}

const cryptB64 = "./0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"

func b64From24(out *strings.Builder, b2, b1, b0 byte, n int) {
	w := uint(b2)<<16 | uint(b1)<<8 | uint(b0)
	for ; n > 0; n-- {
		out.WriteByte(cryptB64[w&0x3f])
		w >>= 6
	}
}
