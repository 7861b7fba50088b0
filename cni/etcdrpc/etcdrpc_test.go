package etcdrpc

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"
)

// TestMain makes the test binary the helper when the tests start it as
// one: Serve with fakeEtcd.
func TestMain(m *testing.M) {
	if os.Getenv("ETCDRPC_TEST_HELPER") == "1" {
		if err := Serve(os.Stdin, os.Stdout, dialFake); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// fakeEtcd answers by path.
type fakeEtcd struct{ cfg Config }

func dialFake(cfg Config) (Caller, error) {
	if cfg.CAFile == "/unreadable" {
		return nil, errors.New("reading ipam.etcdCAFile: permission denied")
	}
	return &fakeEtcd{cfg}, nil
}

func (f *fakeEtcd) Call(ctx context.Context, path string, body []byte) ([]byte, error) {
	switch path {
	case "/v3/kv/range":
		return []byte(fmt.Sprintf(`{"endpoints":%q,"asked":%s}`, strings.Join(f.cfg.Endpoints, ","), body)), nil
	case "/v3/kv/txn":
		return nil, &Error{Code: 3, Message: "too many operations in txn request"}
	case "/down":
		return nil, fmt.Errorf("%w: dial tcp 10.0.0.1:2379: connection refused", ErrUnreachable)
	case "/hang":
		<-ctx.Done()
		return nil, fmt.Errorf("%w: %w", ErrUnreachable, ctx.Err())
	}
	return nil, errors.New("no such path " + path)
}

func (f *fakeEtcd) Close() error { return nil }

// helper returns a Helper running this test binary as the helper.
func helper(t *testing.T, cfg Config) *Helper {
	t.Helper()
	t.Setenv("ETCDRPC_TEST_HELPER", "1")
	h := NewHelper(cfg)
	h.find = os.Executable
	t.Cleanup(func() { h.Close() })
	return h
}

func TestHelperCalls(t *testing.T) {
	h := helper(t, Config{Endpoints: []string{"http://10.0.0.1:2379", "http://10.0.0.2:2379"}})
	ctx := context.Background()

	got, err := h.Call(ctx, "/v3/kv/range", []byte(`{"key":"Lw=="}`))
	if want := `{"endpoints":"http://10.0.0.1:2379,http://10.0.0.2:2379","asked":{"key":"Lw=="}}`; err != nil || string(got) != want {
		t.Errorf("Call(range) = %s, %v, want %s", got, err, want)
	}

	_, err = h.Call(ctx, "/v3/kv/txn", []byte(`{}`))
	var ee *Error
	if !errors.As(err, &ee) || ee.Code != 3 || Transient(err) {
		t.Errorf("Call(txn) = %v, want etcd's error code 3, not transient", err)
	}

	_, err = h.Call(ctx, "/down", nil)
	if !errors.Is(err, ErrUnreachable) || !Transient(err) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("Call(/down) = %v, want ErrUnreachable saying why", err)
	}

	// One helper serves the command's calls, one after another.
	if _, err := h.Call(ctx, "/v3/kv/range", nil); err != nil {
		t.Errorf("Call after errors = %v", err)
	}
}

func TestHelperDeadline(t *testing.T) {
	h := helper(t, Config{Endpoints: []string{"http://10.0.0.1:2379"}})
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, err := h.Call(ctx, "/hang", nil); !errors.Is(err, ErrUnreachable) || !Transient(err) {
		t.Errorf("Call past the command's deadline = %v, want ErrUnreachable", err)
	}
}

func TestHelperConfigError(t *testing.T) {
	h := helper(t, Config{Endpoints: []string{"https://10.0.0.1:2379"}, CAFile: "/unreadable"})
	_, err := h.Call(context.Background(), "/v3/kv/range", nil)
	if !errors.Is(err, ErrConfig) || Transient(err) || !strings.Contains(err.Error(), "ipam.etcdCAFile") {
		t.Errorf("Call with an unreadable CA file = %v, want ErrConfig naming ipam.etcdCAFile", err)
	}
}

func TestHelperMissing(t *testing.T) {
	h := NewHelper(Config{Endpoints: []string{"http://10.0.0.1:2379"}})
	t.Setenv("CNI_PATH", t.TempDir())
	_, err := h.Call(context.Background(), "/v3/kv/range", nil)
	if err == nil || !strings.Contains(err.Error(), HelperName) || Transient(err) {
		t.Errorf("Call without the helper installed = %v, want an error naming %s", err, HelperName)
	}
	if err := h.Close(); err != nil {
		t.Errorf("Close of a helper never started = %v", err)
	}
}
