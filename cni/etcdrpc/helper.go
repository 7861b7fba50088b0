package etcdrpc

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"
)

// HelperName is the helper's file name: it is installed next to
// corral-ipam, in a directory of CNI_PATH.
const HelperName = "corral-ipam-etcd"

// ErrConfig wraps a Config the helper could not use (an unreadable CA
// file, say): the network configuration is wrong, not etcd.
var ErrConfig = errors.New("invalid etcd configuration")

// request is one Call, as the plugin writes it to the helper.
type request struct {
	Path     string    `json:"path"`
	Body     []byte    `json:"body"`
	Deadline time.Time `json:"deadline,omitzero"`
}

// response is a Call's outcome, as the helper writes it back: Body, or
// one of the errors.
type response struct {
	Body        []byte `json:"body,omitempty"`
	Etcd        *Error `json:"etcd,omitempty"`
	Unreachable string `json:"unreachable,omitempty"`
	Config      string `json:"config,omitempty"`
	Other       string `json:"other,omitempty"`
}

// Helper is a Caller that makes its calls through the helper process,
// which it starts on the first one. Calls must not overlap.
type Helper struct {
	cfg   Config
	find  func() (string, error)
	cmd   *exec.Cmd
	stdin io.WriteCloser
	enc   *json.Encoder
	dec   *json.Decoder
	err   error // set once the helper cannot serve any more calls
}

// NewHelper returns a Helper for cfg; nothing runs until the first Call.
func NewHelper(cfg Config) *Helper {
	return &Helper{cfg: cfg, find: FindHelper}
}

// FindHelper returns the path of the helper: next to this executable, or
// else in a directory of CNI_PATH, where the runtime found this plugin.
func FindHelper() (string, error) {
	var dirs []string
	if self, err := os.Executable(); err == nil {
		dirs = append(dirs, filepath.Dir(self))
	}
	dirs = append(dirs, filepath.SplitList(os.Getenv("CNI_PATH"))...)
	for _, d := range dirs {
		p := filepath.Join(d, HelperName)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s, which corral-ipam runs to reach etcd, is in none of %q: install it next to corral-ipam", HelperName, dirs)
}

func (h *Helper) start() error {
	path, err := h.find()
	if err != nil {
		return err
	}
	cmd := exec.Command(path)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return fmt.Errorf("starting %s: %w", HelperName, err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return fmt.Errorf("starting %s: %w", HelperName, err)
	}
	if err := cmd.Start(); err != nil {
		return fmt.Errorf("starting %s: %w", HelperName, err)
	}
	h.cmd, h.stdin, h.enc, h.dec = cmd, stdin, json.NewEncoder(stdin), json.NewDecoder(stdout)
	if err := h.enc.Encode(h.cfg); err != nil {
		return fmt.Errorf("passing the etcd configuration to %s: %w", HelperName, err)
	}
	return nil
}

// Call asks the helper to make the call. When ctx ends first, the helper
// is killed and the Helper fails every later call.
func (h *Helper) Call(ctx context.Context, path string, body []byte) ([]byte, error) {
	if h.err != nil {
		return nil, h.err
	}
	if h.cmd == nil {
		if err := h.start(); err != nil {
			h.err = err
			h.Close()
			return nil, err
		}
	}
	req := request{Path: path, Body: body}
	req.Deadline, _ = ctx.Deadline()
	var resp response
	done := make(chan error, 1)
	go func() {
		if err := h.enc.Encode(req); err != nil {
			done <- err
			return
		}
		done <- h.dec.Decode(&resp)
	}()
	var err error
	select {
	case err = <-done:
	case <-ctx.Done():
		h.cmd.Process.Kill()
		<-done
		h.err = fmt.Errorf("%w: %w", ErrUnreachable, ctx.Err())
		return nil, h.err
	}
	if err != nil {
		h.err = fmt.Errorf("talking to %s: %w", HelperName, err)
		return nil, h.err
	}
	switch {
	case resp.Etcd != nil:
		return nil, resp.Etcd
	case resp.Unreachable != "":
		return nil, fmt.Errorf("%w: %s", ErrUnreachable, resp.Unreachable)
	case resp.Config != "":
		return nil, fmt.Errorf("%w: %s", ErrConfig, resp.Config)
	case resp.Other != "":
		return nil, errors.New(resp.Other)
	}
	return resp.Body, nil
}

// Close ends the helper, if it was started, and waits for it.
func (h *Helper) Close() error {
	if h.cmd == nil {
		return nil
	}
	h.stdin.Close() // the helper exits at the end of its input
	err := h.cmd.Wait()
	h.cmd = nil
	if h.err == nil {
		h.err = errors.New("etcd helper closed")
	}
	return err
}
