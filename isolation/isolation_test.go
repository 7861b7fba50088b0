package isolation

import (
	"strings"
	"syscall"
	"testing"
)

func TestExit(t *testing.T) {
	e := newEnv(t)
	st, out := e.run(t, e.spec("exit-hello", "echo hello"))
	if st != (ExitStatus{}) || !strings.Contains(out, "hello") {
		t.Fatalf("echo hello = %+v, stdout %q; want code 0, hello", st, out)
	}
	_ = syscall.SIGKILL
}
