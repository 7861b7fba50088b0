package resolver

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/miekg/dns"

	"corral/dns/records"
	"corral/mesos"
)

// updatedAt is the generation time of the test records: their SOA serial.
var updatedAt = time.Unix(1700000000, 0)

// testState is the records package's conformance state plus a framework
// "bulk" whose 60 tasks share one name, for answers too big for 512 bytes.
func testState(t testing.TB) mesos.MasterState {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "records", "testdata", "state.json"))
	if err != nil {
		t.Fatal(err)
	}
	var st mesos.MasterState
	if err := json.Unmarshal(b, &st); err != nil {
		t.Fatal(err)
	}
	bulk := mesos.StateFramework{ID: "fw-bulk", Name: "bulk"}
	for i := range 60 {
		id := fmt.Sprintf("big.%04d", i)
		bulk.Tasks = append(bulk.Tasks, mesos.StateTask{
			ID: id, Name: "big", FrameworkID: "fw-bulk",
			SlaveID: "20160107-001256-134875658-5050-27524-S1", State: mesos.TaskRunning,
			Resources: map[string]any{"ports": fmt.Sprintf("[%d-%d]", 31000+i, 31000+i)},
			Statuses: []mesos.TaskStatus{{TaskID: id, State: mesos.TaskRunning, Timestamp: 1,
				ContainerStatus: &mesos.ContainerStatus{NetworkInfos: []mesos.NetworkInfo{{
					IPAddresses: []mesos.IPAddress{{IPAddress: fmt.Sprintf("10.9.%d.%d", i/250, i%250+1)}},
				}}}}},
		})
	}
	st.Frameworks = append(st.Frameworks, bulk)
	return st
}

func testRecordsConfig() records.Config {
	rc := records.DefaultConfig()
	rc.Masters = []string{"10.0.0.2:5050", "10.0.0.1:5050", "10.0.0.3:5050"}
	return rc
}

func testRecords(t testing.TB, rc records.Config) records.RecordSet {
	t.Helper()
	rs, err := records.Generate(testState(t), rc)
	if err != nil {
		t.Fatal(err)
	}
	return rs
}

func testLogger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(t.Output(), &slog.HandlerOptions{Level: slog.LevelWarn}))
}

// start runs a resolver on loopback with the test records loaded (unless
// empty) and stops it when the test ends.
func start(t *testing.T, edit func(*Config), empty bool) *Resolver {
	t.Helper()
	cfg := DefaultConfig()
	cfg.Listen = "127.0.0.1:0"
	cfg.HTTPListen = "127.0.0.1:0"
	cfg.UDPSockets = 2
	cfg.Records = testRecordsConfig()
	if edit != nil {
		edit(&cfg)
	}
	r, err := New(cfg, testLogger(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Listen(); err != nil {
		t.Fatal(err)
	}
	if !empty {
		r.Update(testRecords(t, cfg.Records), updatedAt)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- r.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Serve() = %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("Serve did not return after its context ended")
		}
	})
	return r
}

// ask sends one query and fails the test on a transport error.
func ask(t *testing.T, r *Resolver, network, name string, qtype uint16, edit func(*dns.Msg)) *dns.Msg {
	t.Helper()
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	if edit != nil {
		edit(m)
	}
	c := &dns.Client{Net: network, Timeout: 5 * time.Second, UDPSize: 65535}
	resp, _, err := c.Exchange(m, r.Addr().String())
	if err != nil {
		t.Fatalf("%s query %s %s: %v", network, name, dns.TypeToString[qtype], err)
	}
	return resp
}

// answers lists the data of a section's records of type qtype, in order.
func answers(rrs []dns.RR, qtype uint16) []string {
	var out []string
	for _, rr := range rrs {
		if rr.Header().Rrtype != qtype {
			continue
		}
		switch v := rr.(type) {
		case *dns.A:
			out = append(out, v.A.String())
		case *dns.AAAA:
			out = append(out, v.AAAA.String())
		case *dns.SRV:
			out = append(out, fmt.Sprintf("%d %d %d %s", v.Priority, v.Weight, v.Port, v.Target))
		case *dns.NS:
			out = append(out, v.Ns)
		case *dns.SOA:
			out = append(out, fmt.Sprintf("%s %s %d", v.Ns, v.Mbox, v.Serial))
		}
	}
	return out
}
