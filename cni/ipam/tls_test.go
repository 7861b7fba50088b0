package main

import (
	"encoding/json"
	"testing"

	"corral/masterd/state/statetest"
	"corral/tstest/testca"
)

// corral-ipam allocates through an etcd that serves TLS and requires
// client certificates, with etcdCAFile, etcdCertFile and etcdKeyFile; and
// without its certificate it fails and allocates nothing.
func TestAllocatesThroughEtcdOverTLS(t *testing.T) {
	bin := buildPlugin(t)
	ca := testca.New(t, "etcd")
	url := statetest.StartTLS(t, ca)
	client := ca.Issue(t, "host-a")
	dataDir := t.TempDir()
	tlsConf := map[string]any{"etcdCAFile": ca.CertFile, "etcdCertFile": client.CertFile, "etcdKeyFile": client.KeyFile, "dataDir": dataDir}

	out, code := invocation{command: "ADD", containerID: "c1", ifname: "eth0", stdin: netconf(t, url, tlsConf)}.exec(t, bin)
	if code != 0 {
		t.Fatalf("ADD over TLS: exit %d: %s", code, out)
	}
	var res struct {
		IPs []struct {
			Address string `json:"address"`
		} `json:"ips"`
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.IPs) != 1 || res.IPs[0].Address != "10.20.0.2/16" {
		t.Fatalf("ADD over TLS = %s, want one address 10.20.0.2/16", out)
	}
	out, code = invocation{command: "ADD", containerID: "c2", ifname: "eth0", stdin: netconf(t, url, tlsConf)}.exec(t, bin)
	if code != 0 {
		t.Fatalf("second ADD over TLS: exit %d: %s", code, out)
	}
	if err := json.Unmarshal(out, &res); err != nil || len(res.IPs) != 1 || res.IPs[0].Address != "10.20.0.3/16" {
		t.Fatalf("second ADD over TLS = %s, want the next address 10.20.0.3/16 (the first is held in the host's block)", out)
	}

	// Another host, which has no block yet and must claim one in etcd.
	noCert := map[string]any{"etcdCAFile": ca.CertFile, "timeout": "2s", "dataDir": dataDir, "host": "host-b"}
	out, code = invocation{command: "ADD", containerID: "c3", ifname: "eth0", stdin: netconf(t, url, noCert)}.exec(t, bin)
	if code == 0 {
		t.Fatalf("ADD without a client certificate succeeded: %s", out)
	}
	t.Logf("without a client certificate: %s", decodeError(t, out).Msg)
}
