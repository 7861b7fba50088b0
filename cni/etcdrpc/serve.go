package etcdrpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"
)

// Serve is the helper's side: it reads the plugin's Config from r, makes
// a Caller of it with dial, and answers the calls that follow on w until
// r ends. A Config that dial rejects fails every call with ErrConfig.
func Serve(r io.Reader, w io.Writer, dial func(Config) (Caller, error)) error {
	dec, enc := json.NewDecoder(r), json.NewEncoder(w)
	var cfg Config
	if err := dec.Decode(&cfg); err != nil {
		if errors.Is(err, io.EOF) {
			return nil
		}
		return fmt.Errorf("reading the etcd configuration: %w", err)
	}
	c, dialErr := dial(cfg)
	if c != nil {
		defer c.Close()
	}
	for {
		var req request
		if err := dec.Decode(&req); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return fmt.Errorf("reading a request: %w", err)
		}
		var resp response
		if dialErr != nil {
			resp.Config = dialErr.Error()
		} else {
			resp = call(c, req)
		}
		if err := enc.Encode(resp); err != nil {
			return fmt.Errorf("writing a response: %w", err)
		}
	}
}

func call(c Caller, req request) response {
	ctx := context.Background()
	if !req.Deadline.IsZero() {
		var cancel context.CancelFunc
		ctx, cancel = context.WithDeadline(ctx, req.Deadline)
		defer cancel()
	}
	body, err := c.Call(ctx, req.Path, req.Body)
	var ee *Error
	switch {
	case err == nil:
		return response{Body: body}
	case errors.As(err, &ee):
		return response{Etcd: ee}
	case Transient(err):
		return response{Unreachable: strings.TrimPrefix(err.Error(), ErrUnreachable.Error()+": ")}
	default:
		return response{Other: err.Error()}
	}
}
