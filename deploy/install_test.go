package deploy

import (
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"corral/tstest"
)

// tree lists the files under root (not directories) with their modes,
// sorted.
func tree(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(root, path)
		out = append(out, "/"+rel+" "+info.Mode().String())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(out)
	return out
}

func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}

// TestInstall installs into a staging directory as a package build would
// (make install DESTDIR=…), checks the tree an operator gets, upgrades it
// while the installed agentd runs, and uninstalls it.
func TestInstall(t *testing.T) {
	dest, bin := t.TempDir(), t.TempDir()
	runMake(t, "install", "DESTDIR="+dest, "BIN="+bin)

	want := []string{
		"/etc/default/corral-agentd -rw-r--r--",
		"/etc/default/corral-masterd -rw-r--r--",
		"/etc/default/corral-routerd -rw-r--r--",
		"/usr/lib/corral/cni/corral-ipam -rwxr-xr-x",
		"/usr/lib/corral/cni/corral-ipam-etcd -rwxr-xr-x",
		"/usr/lib/corral/cni/corral-macvlan -rwxr-xr-x",
		"/usr/local/bin/agentd -rwxr-xr-x",
		"/usr/local/bin/corral-exec -rwxr-xr-x",
		"/usr/local/bin/corral-shim -rwxr-xr-x",
		"/usr/local/bin/masterd -rwxr-xr-x",
		"/usr/local/bin/routerd -rwxr-xr-x",
		"/usr/local/lib/systemd/system/agentd.service -rw-r--r--",
		"/usr/local/lib/systemd/system/masterd.service -rw-r--r--",
		"/usr/local/lib/systemd/system/routerd.service -rw-r--r--",
		"/usr/local/share/doc/corral/README.md -rw-r--r--",
	}
	if got := tree(t, dest); !slices.Equal(got, want) {
		t.Fatalf("make install put\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	for _, d := range []string{"/var/lib/corral/master", "/var/lib/corral/agent", "/etc/corral/cni/net.d"} {
		if !isDir(filepath.Join(dest, d)) {
			t.Errorf("make install did not create %s", d)
		}
	}

	// Each unit starts the installed daemon with the flags of its
	// /etc/default file, and the daemon runs: asked for an unknown log
	// format, it names the valid ones.
	for _, d := range []string{"masterd", "agentd", "routerd"} {
		svc := unitService(t, filepath.Join(dest, "usr/local/lib/systemd/system", d+".service"))
		arg := strings.ToUpper(d) + "_ARGS"
		if got, want := svc["ExecStart"], []string{"/usr/local/bin/" + d + " $" + arg}; !slices.Equal(got, want) {
			t.Errorf("%s.service ExecStart=%v, want %v", d, got, want)
		}
		if got, want := svc["EnvironmentFile"], []string{"-/etc/default/corral-" + d}; !slices.Equal(got, want) {
			t.Errorf("%s.service EnvironmentFile=%v, want %v", d, got, want)
		}
		conf, _ := os.ReadFile(filepath.Join(dest, "etc/default/corral-"+d))
		if !strings.Contains("\n"+string(conf), "\n"+arg+"=") {
			t.Errorf("/etc/default/corral-%s does not set %s:\n%s", d, arg, conf)
		}
		out, err := exec.Command(filepath.Join(dest, "usr/local/bin", d), "--log-format", "xml").CombinedOutput()
		var exit *exec.ExitError
		if !errors.As(err, &exit) || exit.ExitCode() != 2 || !strings.Contains(string(out), `invalid value "xml" for flag -log-format: must be text or json`) {
			t.Errorf("installed %s --log-format xml: %v, want exit status 2 naming text and json:\n%.300s", d, err, out)
		}
	}
	// agentd finds the installed CNI plugins where it looks first.
	out, err := exec.Command(filepath.Join(dest, "usr/local/bin/agentd"), "--help").CombinedOutput()
	if !strings.Contains(string(out), `(default "/usr/lib/corral/cni:`) {
		t.Errorf("agentd's --network-cni-plugins-dir does not start with /usr/lib/corral/cni (%v):\n%s", err, out)
	}
	for _, p := range []string{"corral-macvlan", "corral-ipam"} {
		cmd := exec.Command(filepath.Join(dest, "usr/lib/corral/cni", p))
		cmd.Env = []string{"CNI_COMMAND=VERSION"}
		cmd.Stdin = strings.NewReader(`{"cniVersion":"1.1.0"}`)
		out, err := cmd.Output()
		var v struct {
			SupportedVersions []string `json:"supportedVersions"`
		}
		if err != nil || json.Unmarshal(out, &v) != nil || !slices.Contains(v.SupportedVersions, "1.1.0") {
			t.Errorf("installed %s answers CNI VERSION with %q (%v), want 1.1.0 among its versions", p, out, err)
		}
	}

	// An upgrade while agentd runs: install replaces the binary (the
	// running agentd keeps its old one) and keeps the operator's settings.
	agent := exec.Command(filepath.Join(dest, "usr/local/bin/agentd"), "--isolation", "posix",
		"--master", "127.0.0.1:1", "--work-dir", t.TempDir(), "--listen", "127.0.0.1:0", "--registration-backoff", "1s")
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { agent.Process.Kill(); agent.Wait() }()
	exe := filepath.Join(dest, "usr/local/bin/agentd")
	tstest.WaitFor(t, 10*time.Second, "the installed agentd to run", func() bool {
		link, err := os.Readlink("/proc/" + strconv.Itoa(agent.Process.Pid) + "/exe")
		return err == nil && link == exe
	})
	edited := "MASTERD_ARGS=\"--hostname m1.example.com\"\n"
	if err := os.WriteFile(filepath.Join(dest, "etc/default/corral-masterd"), []byte(edited), 0o644); err != nil {
		t.Fatal(err)
	}
	out2 := runMake(t, "install", "DESTDIR="+dest, "BIN="+bin)
	if !strings.Contains(out2, "keeping "+filepath.Join(dest, "etc/default/corral-masterd")) {
		t.Errorf("make install did not say it kept the edited /etc/default/corral-masterd:\n%s", out2)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "etc/default/corral-masterd")); string(b) != edited {
		t.Errorf("make install overwrote the edited /etc/default/corral-masterd with:\n%s", b)
	}
	if err := agent.Process.Signal(syscall.Signal(0)); err != nil {
		t.Errorf("the running agentd died when make install replaced its binary: %v", err)
	}
	if link, _ := os.Readlink("/proc/" + strconv.Itoa(agent.Process.Pid) + "/exe"); link != exe+" (deleted)" {
		t.Errorf("the running agentd's executable is %q, want the replaced (unlinked) %s", link, exe)
	}

	// Uninstall leaves the operator's edits and data unless asked.
	data := filepath.Join(dest, "var/lib/corral/agent/meta/agent_id")
	os.MkdirAll(filepath.Dir(data), 0o755)
	os.WriteFile(data, []byte("m1-S1"), 0o644)
	runMake(t, "uninstall", "DESTDIR="+dest)
	left := []string{"/etc/default/corral-masterd -rw-r--r--", "/var/lib/corral/agent/meta/agent_id -rw-r--r--"}
	if got := tree(t, dest); !slices.Equal(got, left) {
		t.Errorf("make uninstall left\n  %s\nwant only the edited default file and the data\n  %s", strings.Join(got, "\n  "), strings.Join(left, "\n  "))
	}
	for _, d := range []string{"/usr/lib/corral", "/var/lib/corral/master", "/etc/corral"} {
		if isDir(filepath.Join(dest, d)) {
			t.Errorf("make uninstall left the empty directory %s", d)
		}
	}
	runMake(t, "uninstall", "DESTDIR="+dest, "PURGE=yes")
	if got := tree(t, dest); len(got) != 0 {
		t.Errorf("make uninstall PURGE=yes left %v", got)
	}
	if isDir(filepath.Join(dest, "var/lib/corral")) {
		t.Errorf("make uninstall PURGE=yes left /var/lib/corral")
	}
}

// TestInstallPrefix: PREFIX=/usr, as a package build uses, puts the
// daemons in /usr/bin, the units where systemd looks for a package's, and
// the units' ExecStart follows.
func TestInstallPrefix(t *testing.T) {
	dest := t.TempDir()
	runMake(t, "install", "DESTDIR="+dest, "BIN="+t.TempDir(), "PREFIX=/usr")
	for _, f := range []string{"usr/bin/masterd", "usr/bin/agentd", "usr/bin/corral-shim", "usr/bin/corral-exec", "usr/bin/routerd", "usr/lib/corral/cni/corral-macvlan",
		"usr/lib/systemd/system/agentd.service", "usr/share/doc/corral/README.md"} {
		if _, err := os.Stat(filepath.Join(dest, f)); err != nil {
			t.Errorf("make install PREFIX=/usr: %v", err)
		}
	}
	if isDir(filepath.Join(dest, "usr/local")) {
		t.Errorf("make install PREFIX=/usr wrote under /usr/local")
	}
	svc := unitService(t, filepath.Join(dest, "usr/lib/systemd/system/agentd.service"))
	if got, want := svc["ExecStart"], []string{"/usr/bin/agentd $AGENTD_ARGS"}; !slices.Equal(got, want) {
		t.Errorf("agentd.service ExecStart=%v with PREFIX=/usr, want %v", got, want)
	}
}
