package httpproxy

import (
	"bytes"
	"net"
	"net/netip"
	"sync"
	"unsafe"

	"github.com/valyala/fasthttp"
)

const (
	textPlain = "text/plain; charset=utf-8"
	hdrAppID  = "X-Marathon-App-Id"
	hdrXFF    = "X-Forwarded-For"
)

// wellFormed refuses, with 400, what fasthttp's parser lets through but a
// proxy must not forward: a message framed by both Content-Length and
// Transfer-Encoding (fasthttp honours the latter and drops the former; a
// backend might do the opposite), and an HTTP/1.1 request without Host.
// fasthttp itself refuses bad request lines, duplicate or malformed
// Content-Length, unknown transfer codings and headers larger than its
// read buffer.
func wellFormed(ctx *fasthttp.RequestCtx) bool {
	h := &ctx.Request.Header
	if !h.IsHTTP11() || len(h.Host()) > 0 {
		if !framingConflict(h.RawHeaders()) {
			return true
		}
		plainError(ctx, fasthttp.StatusBadRequest, []byte("bad request: both Content-Length and Transfer-Encoding\n"))
	} else {
		plainError(ctx, fasthttp.StatusBadRequest, []byte("bad request: no Host header\n"))
	}
	ctx.SetConnectionClose()
	return false
}

// framingConflict reports whether raw header lines hold both a
// Content-Length and a Transfer-Encoding field.
func framingConflict(raw []byte) bool {
	cl, te := false, false
	for len(raw) > 0 {
		line := raw
		if i := bytes.IndexByte(raw, '\n'); i >= 0 {
			line, raw = raw[:i], raw[i+1:]
		} else {
			raw = nil
		}
		if len(line) < 15 {
			continue
		}
		switch line[0] | 0x20 {
		case 'c':
			cl = cl || hasFieldName(line, "content-length")
		case 't':
			te = te || hasFieldName(line, "transfer-encoding")
		}
	}
	return cl && te
}

// hasFieldName reports whether line is a field named name (lower case).
func hasFieldName(line []byte, name string) bool {
	if len(line) <= len(name) || line[len(name)] != ':' && line[len(name)] != ' ' && line[len(name)] != '\t' {
		return false
	}
	for i := 0; i < len(name); i++ {
		if line[i]|0x20 != name[i] {
			return false
		}
	}
	return true
}

// Hop-by-hop fields (RFC 9110 section 7.6.1) and Expect, which fasthttp
// answered already.
const (
	hopConnection = 1 << iota
	hopKeepAlive
	hopProxyConnection
	hopTE
	hopUpgrade
	hopTrailer
	hopExpect
)

var hopNames = [...]string{"Connection", "Keep-Alive", "Proxy-Connection", "TE", "Upgrade", "Trailer", "Expect"}

func hopBit(k []byte) int {
	for i, n := range hopNames {
		if len(k) == len(n) && bytes.EqualFold(k, s2b(n)) {
			return 1 << i
		}
	}
	return 0
}

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 256); return &b }}

// prepareRequest makes the client's request the backend's: hop-by-hop
// fields and those the Connection field names are dropped (kept for an
// upgrade), X-Forwarded-For appended to, X-Forwarded-Proto and -Host set.
// It reports whether the client asked to close its connection.
func (p *Proxy) prepareRequest(ctx *fasthttp.RequestCtx, isTLS, upgrade bool) bool {
	h := &ctx.Request.Header
	clientClose := h.ConnectionClose()
	h.ResetConnectionClose()
	sp := scratchPool.Get().(*[]byte)
	buf := (*sp)[:0]
	found := 0
	for k := range h.All() {
		if len(k) <= len("Proxy-Connection") {
			found |= hopBit(k)
		}
	}
	if upgrade {
		found &^= hopConnection | hopUpgrade
	}
	if found&hopConnection != 0 {
		// Fields the client named as hop-by-hop: copied first, as
		// deleting moves header storage.
		buf = append(buf, h.Peek("Connection")...)
		for rest := buf; len(rest) > 0; {
			var tok []byte
			tok, rest = nextToken(rest)
			if len(tok) > 0 {
				h.DelBytes(tok)
			}
		}
		buf = buf[:0]
	}
	for i, n := range hopNames {
		if found&(1<<i) != 0 {
			h.Del(n)
		}
	}
	buf = append(buf, h.Peek(hdrXFF)...)
	if len(buf) > 0 {
		buf = append(buf, ", "...)
	}
	if a, ok := ctx.RemoteAddr().(*net.TCPAddr); ok {
		ip, _ := netip.AddrFromSlice(a.IP)
		buf = ip.Unmap().AppendTo(buf)
	}
	h.SetBytesV(hdrXFF, buf)
	if isTLS {
		h.Set("X-Forwarded-Proto", "https")
		ctx.Request.URI().SetScheme("http") // the backend is plain HTTP
	} else {
		h.Set("X-Forwarded-Proto", "http")
	}
	h.SetBytesV("X-Forwarded-Host", h.Host())
	*sp = buf
	scratchPool.Put(sp)
	return clientClose
}

// stripResponse drops a backend response's hop-by-hop fields.
func stripResponse(h *fasthttp.ResponseHeader) {
	found := 0
	for k := range h.All() {
		if len(k) <= len("Proxy-Connection") {
			found |= hopBit(k)
		}
	}
	found &^= hopTrailer | hopExpect // trailers are fasthttp's business
	if found == 0 {
		return
	}
	if found&hopConnection != 0 {
		var arr [128]byte
		conn := append(arr[:0], h.Peek("Connection")...)
		for rest := conn; len(rest) > 0; {
			var tok []byte
			tok, rest = nextToken(rest)
			if len(tok) > 0 {
				h.DelBytes(tok)
			}
		}
	}
	for i, n := range hopNames {
		if found&(1<<i) != 0 {
			h.Del(n)
		}
	}
}

// nextToken splits the first element off a comma-separated list.
func nextToken(list []byte) (tok, rest []byte) {
	if i := bytes.IndexByte(list, ','); i >= 0 {
		tok, rest = list[:i], list[i+1:]
	} else {
		tok = list
	}
	return bytes.TrimSpace(tok), rest
}

// isUpgrade reports whether the request asks to switch protocols
// (WebSocket).
func isUpgrade(ctx *fasthttp.RequestCtx) bool {
	return ctx.Request.Header.ConnectionUpgrade() && len(ctx.Request.Header.Peek("Upgrade")) > 0
}

// redirectHTTPS answers 301 to the same host (without port) and URI over
// HTTPS.
func redirectHTTPS(ctx *fasthttp.RequestCtx) {
	host := ctx.Host()
	if i := bytes.LastIndexByte(host, ':'); i >= 0 && !bytes.HasSuffix(host, []byte("]")) {
		host = host[:i]
	}
	loc := make([]byte, 0, 8+len(host)+len(ctx.RequestURI()))
	loc = append(loc, "https://"...)
	loc = append(loc, host...)
	loc = append(loc, ctx.URI().RequestURI()...)
	ctx.Response.Header.SetBytesV("Location", loc)
	ctx.SetStatusCode(fasthttp.StatusMovedPermanently)
}

// b2s views b as a string without copying; the string must not outlive
// b's use in the handler.
func b2s(b []byte) string { return unsafe.String(unsafe.SliceData(b), len(b)) }

func s2b(s string) []byte { return unsafe.Slice(unsafe.StringData(s), len(s)) }
