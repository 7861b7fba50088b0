package health

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
)

// maxOutput is how much of a failing command's output goes into
// LastFailureCause.
const maxOutput = 256

// check runs one check within the timeout and returns nil if it passed, or
// why it failed.
func (c *Checker) check(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()
	var err error
	switch c.cfg.typ {
	case TypeHTTP:
		err = c.checkHTTP(ctx)
	case TypeTCP:
		err = c.checkTCP(ctx)
	case TypeCommand:
		err = c.checkCommand(ctx)
	}
	// Marathon: a check is a failure after timeoutSeconds regardless of the
	// response, even one that arrives as the deadline passes.
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("%s check of %s: no result within %v", c.cfg.typ, c.what(), c.cfg.timeout)
	}
	return err
}

// what names the thing checked, for failure causes.
func (c *Checker) what() string {
	switch c.cfg.typ {
	case TypeHTTP:
		return c.cfg.url
	case TypeTCP:
		return c.cfg.addr
	}
	return fmt.Sprintf("%q", c.cfg.command)
}

// checkHTTP passes iff GET url answers 200–399. Redirects are not followed.
// Go's transport reads past interim 1xx responses to the final one, so only
// a final 1xx (101) is seen, and it fails: Marathon's ignoreHttp1xx=false.
func (c *Checker) checkHTTP(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.cfg.url, nil)
	if err != nil {
		return fmt.Errorf("building health check request: %w", err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return err // *url.Error says: Get "http://…": what happened
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 399 {
		return fmt.Errorf("GET %s: %s, want 200–399", c.cfg.url, resp.Status)
	}
	return nil
}

// checkTCP passes iff a TCP connection can be established.
func (c *Checker) checkTCP(ctx context.Context) error {
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", c.cfg.addr)
	if err != nil {
		return err // *net.OpError says: dial tcp …: what happened
	}
	return conn.Close()
}

// checkCommand passes iff the command exits 0.
func (c *Checker) checkCommand(ctx context.Context) error {
	code, out, err := c.exec(ctx, c.cfg.command)
	if err != nil {
		return fmt.Errorf("running health check command %q: %w", c.cfg.command, err)
	}
	if code != 0 {
		if out = clip(out); out != "" {
			return fmt.Errorf("health check command %q exited with code %d: %s", c.cfg.command, code, out)
		}
		return fmt.Errorf("health check command %q exited with code %d", c.cfg.command, code)
	}
	return nil
}

// clip trims s to maxOutput bytes of its end, where errors usually are.
func clip(s string) string {
	s = strings.TrimSpace(s)
	if len(s) > maxOutput {
		s = "…" + strings.ToValidUTF8(s[len(s)-maxOutput:], "")
	}
	return s
}
