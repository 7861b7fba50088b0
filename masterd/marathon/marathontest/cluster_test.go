package marathontest

import (
	"net"
	"os"
	"strconv"
	"strings"
	"testing"

	"corral/masterd/state/statetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	RemoveBinaries()
	os.Exit(code)
}

// TestStartPortTaken hands masterd a port another process holds, as a
// test of another package may take one between FreePort and masterd's
// listen: the cluster starts on new ports instead of failing.
func TestStartPortTaken(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	taken := ln.Addr().(*net.TCPAddr).Port
	calls := 0
	freePort = func(t testing.TB) int {
		calls++
		if calls == 3 { // the etcd client URL of the first attempt
			return taken
		}
		return statetest.FreePort(t)
	}
	t.Cleanup(func() { freePort = statetest.FreePort })
	c := Start(t, Options{Isolation: "posix"})
	if calls != 8 {
		t.Errorf("Start asked for %d ports, want 8: 4 for the attempt that found one taken and 4 for the next", calls)
	}
	if strings.HasSuffix(c.Marathon, ":"+strconv.Itoa(taken)) || strings.HasSuffix(c.Mesos, ":"+strconv.Itoa(taken)) {
		t.Errorf("the cluster serves on the taken port %d: %s, %s", taken, c.Mesos, c.Marathon)
	}
	if st := c.MasterState(t); len(st.Slaves) != 1 {
		t.Errorf("/master/state lists %d agents, want 1", len(st.Slaves))
	}
}
