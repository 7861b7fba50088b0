package network

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/netip"
	"os/exec"
	"path/filepath"
	"syscall"
	"time"

	"github.com/containernetworking/cni/libcni"
	"github.com/containernetworking/cni/pkg/invoke"
	"github.com/containernetworking/cni/pkg/types"
	current "github.com/containernetworking/cni/pkg/types/100"
	"github.com/vishvananda/netns"
)

// cniAttachment is one CNI network of a task, as its record keeps it: the
// conflist it was added with, so that DEL runs with the same configuration
// even if the file changed or went away.
type cniAttachment struct {
	Network  string          `json:"network"`
	IfName   string          `json:"ifname"`
	ConfList json.RawMessage `json:"conflist"`
	Ports    []portMapping   `json:"ports,omitempty"`
	Capable  bool            `json:"capable,omitempty"` // a plugin forwards Ports (capability portMappings)
	IPs      []netip.Addr    `json:"ips,omitempty"`
	Shim     string          `json:"shim,omitempty"` // the host's macvlan shim that routes to the IPs
}

// newCNI returns libcni set up for the manager: its plugin path, its own
// cache directory, and plugins run in the host namespace.
func newCNI(cfg Config, hostNS netns.NsHandle, foreign bool, stderr io.Writer) *libcni.CNIConfig {
	var exec invoke.Exec = groupExec{&invoke.DefaultExec{RawExec: &invoke.RawExec{Stderr: stderr}}}
	if foreign {
		exec = nsExec{exec, hostNS}
	}
	return libcni.NewCNIConfigWithCacheDir(cfg.CNIPluginDirs, cacheDir(cfg), exec)
}

// groupExec runs each plugin in a process group of its own and, when ctx
// ends, kills the whole group: libcni's RawExec kills only the plugin, and
// then waits for ever on the output pipe a child it started (a shell
// plugin's sleep, a hung helper) keeps open.
type groupExec struct{ *invoke.DefaultExec }

func (e groupExec) ExecPlugin(ctx context.Context, path string, stdin []byte, env []string) ([]byte, error) {
	var stdout, stderr bytes.Buffer
	c := exec.CommandContext(ctx, path)
	c.Env, c.Stdin, c.Stdout, c.Stderr = env, bytes.NewReader(stdin), &stdout, &stderr
	c.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	c.Cancel = func() error { return syscall.Kill(-c.Process.Pid, syscall.SIGKILL) }
	c.WaitDelay = time.Second // output pipes held by a child that escaped the group
	if err := c.Run(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("CNI plugin %s killed: %w", filepath.Base(path), context.Cause(ctx))
		}
		msg := types.Error{}
		switch {
		case stdout.Len() > 0 && json.Unmarshal(stdout.Bytes(), &msg) == nil:
		case stderr.Len() > 0:
			msg.Msg = fmt.Sprintf("netplugin failed: %q", stderr.String())
		default:
			msg.Msg = fmt.Sprintf("netplugin failed with no error message: %v", err)
		}
		return nil, &msg
	}
	if e.RawExec.Stderr != nil && stderr.Len() > 0 {
		_, _ = stderr.WriteTo(e.RawExec.Stderr)
	}
	return stdout.Bytes(), nil
}

// nsExec runs plugins in a namespace other than agentd's (tests simulating
// hosts).
type nsExec struct {
	invoke.Exec
	ns netns.NsHandle
}

func (e nsExec) ExecPlugin(ctx context.Context, path string, stdin []byte, env []string) ([]byte, error) {
	var out []byte
	err := inNetNS(e.ns, func() (err error) {
		out, err = e.Exec.ExecPlugin(ctx, path, stdin, env)
		return err
	})
	return out, err
}

// loadConfList finds the conflist named network in the configuration
// directory.
func loadConfList(dir, network string) (*libcni.NetworkConfigList, error) {
	list, err := libcni.LoadNetworkConf(dir, network)
	var nf libcni.NotFoundError
	var none libcni.NoConfigsFoundError
	if errors.As(err, &nf) || errors.As(err, &none) {
		return nil, fmt.Errorf("unknown network %q: no CNI configuration in %s names it", network, dir)
	}
	if err != nil {
		return nil, fmt.Errorf("loading the CNI configuration of network %q: %w", network, err)
	}
	return list, nil
}

// allConfLists loads every conflist in dir, skipping unreadable ones.
func allConfLists(dir string) ([]*libcni.NetworkConfigList, []error) {
	files, err := libcni.ConfFiles(dir, []string{".conflist", ".conf", ".json"})
	if err != nil {
		return nil, []error{err}
	}
	var lists []*libcni.NetworkConfigList
	var errs []error
	for _, f := range files {
		list, err := libcni.NetworkConfFromFile(f)
		if err != nil {
			// A single plugin's configuration (.conf) is a list of one.
			var conf *libcni.PluginConfig
			if conf, err = libcni.ConfFromFile(f); err == nil {
				list, err = libcni.ConfListFromConf(conf)
			}
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", f, err))
			continue
		}
		lists = append(lists, list)
	}
	return lists, errs
}

// capablePortMappings reports whether a plugin of the list forwards ports
// itself (capability portMappings, e.g. the portmap plugin); agentd then
// passes the mappings on rather than installing its own.
func capablePortMappings(list *libcni.NetworkConfigList) bool {
	for _, p := range list.Plugins {
		if p.Network.Capabilities["portMappings"] {
			return true
		}
	}
	return false
}

// macvlanParent returns the parent link of a macvlan plugin in bridge mode
// in the list (Corral's or the reference one), for which the host needs a
// shim to reach its containers; "" if there is none.
func macvlanParent(list *libcni.NetworkConfigList) string {
	for _, p := range list.Plugins {
		var c struct {
			Type            string `json:"type"`
			Master          string `json:"master"`
			Mode            string `json:"mode"`
			LinkInContainer bool   `json:"linkInContainer"`
		}
		if json.Unmarshal(p.Bytes, &c) != nil {
			continue
		}
		if (c.Type == "corral-macvlan" || c.Type == "macvlan") && c.Master != "" && (c.Mode == "" || c.Mode == "bridge") && !c.LinkInContainer {
			return c.Master
		}
	}
	return ""
}

// resultIPs returns the addresses a CNI ADD gave the interface ifName (or
// any container interface when the result does not say).
func resultIPs(r types.Result, ifName string) ([]netip.Addr, error) {
	res, err := current.NewResultFromResult(r)
	if err != nil {
		return nil, fmt.Errorf("converting the CNI result: %w", err)
	}
	var out []netip.Addr
	for _, ip := range res.IPs {
		if ip.Interface != nil && *ip.Interface < len(res.Interfaces) {
			iface := res.Interfaces[*ip.Interface]
			if iface.Sandbox == "" || iface.Name != ifName {
				continue
			}
		}
		if a, ok := netip.AddrFromSlice(ip.Address.IP); ok {
			out = append(out, a.Unmap())
		}
	}
	return out, nil
}

// runtimeConf is how a task's attachment is known to CNI.
func runtimeConf(id, nsPath, ifName string, ports []portMapping, capable bool) *libcni.RuntimeConf {
	rt := &libcni.RuntimeConf{ContainerID: id, NetNS: nsPath, IfName: ifName}
	if capable && len(ports) > 0 {
		var pms []map[string]any
		for _, p := range ports {
			pms = append(pms, map[string]any{"hostPort": int(p.HostPort), "containerPort": int(p.ContainerPort), "protocol": p.Protocol})
		}
		rt.CapabilityArgs = map[string]any{"portMappings": pms}
	}
	return rt
}
