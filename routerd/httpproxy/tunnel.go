package httpproxy

import (
	"errors"
	"io"
	"net"
	"time"

	"github.com/valyala/fasthttp"
)

// closeWriter is a connection that can half-close: TCP and TLS.
type closeWriter interface{ CloseWrite() error }

// tunnel passes an upgrade request (WebSocket) through: it connects to a
// backend, writes the request head, and once fasthttp hands over the
// client connection copies bytes both ways until both sides are done,
// passing each side's end of stream on as a half-close.
func (p *Proxy) tunnel(ctx *fasthttp.RequestCtx, st *service, isTLS bool) {
	p.prepareRequest(ctx, isTLS, true) // the connection is the tunnel's from now on: no close to remember
	var (
		tried   uint64
		backend net.Conn
		up      *upstream
		err     error
	)
	for attempt := 0; attempt <= p.cfg.Retries; attempt++ {
		i := st.pick(ctx, tried)
		if i < 0 {
			break
		}
		if i < 64 {
			tried |= 1 << i
		}
		up = st.ups[i]
		if backend, err = net.DialTimeout("tcp", up.addr, p.cfg.DialTimeout); err == nil {
			break
		}
		st.m.ConnectErrors.Inc()
	}
	if backend == nil {
		code, msg := fasthttp.StatusServiceUnavailable, st.noBackend
		if err != nil {
			code, msg = fasthttp.StatusBadGateway, st.failed
			if isTimeout(err) {
				code, msg = fasthttp.StatusGatewayTimeout, st.timedOut
			}
		}
		plainError(ctx, code, msg)
		st.m.Request(code)
		return
	}
	backend.SetWriteDeadline(time.Now().Add(p.cfg.BackendTimeout))
	_, err = backend.Write(ctx.Request.Header.Header())
	if err == nil && !ctx.Request.IsBodyStream() && len(ctx.Request.Body()) > 0 {
		_, err = backend.Write(ctx.Request.Body())
	}
	backend.SetWriteDeadline(time.Time{})
	if err != nil {
		backend.Close()
		plainError(ctx, fasthttp.StatusBadGateway, st.failed)
		st.m.Request(fasthttp.StatusBadGateway)
		return
	}
	st.m.Request(fasthttp.StatusSwitchingProtocols)
	up.inflight.Add(1)
	raw := ctx.Conn() // the hijacked conn wraps it; half-closes go here
	ctx.HijackSetNoResponse(true)
	ctx.Hijack(func(client net.Conn) {
		defer up.inflight.Add(-1)
		p.pipe(client, raw, backend)
	})
}

// pipe copies between client and backend until both directions ended.
func (p *Proxy) pipe(client, raw, backend net.Conn) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		backend.Close()
		return
	}
	p.tunnels[raw] = struct{}{}
	p.tunnels[backend] = struct{}{}
	p.tunnelWG.Add(1)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.tunnels, raw)
		delete(p.tunnels, backend)
		p.mu.Unlock()
		backend.Close()
		p.tunnelWG.Done()
	}()

	done := make(chan struct{})
	go func() {
		defer close(done)
		copyHalf(raw, backend)
	}()
	copyHalf(backend, client)
	<-done
}

// copyHalf copies src to dst; at src's end of stream it half-closes dst,
// on an error it closes both so the other direction ends too.
func copyHalf(dst net.Conn, src io.Reader) {
	_, err := io.Copy(dst, src)
	if cw, ok := dst.(closeWriter); ok && err == nil {
		if cw.CloseWrite() == nil {
			return
		}
	}
	dst.Close()
	if c, ok := src.(net.Conn); ok && !errors.Is(err, net.ErrClosed) {
		c.Close()
	}
}
