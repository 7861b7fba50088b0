package task

import (
	"sort"
	"strconv"
	"strings"

	"corral/mesos"
)

// Ports returns the task's ports in the order the framework gave them: the
// discovery ports when present (Marathon lists them in portDefinitions
// order, with names), else the ports resource ascending.
func Ports(info mesos.TaskInfo) (numbers []uint64, names []string) {
	if d := info.Discovery; d != nil && d.Ports != nil && len(d.Ports.Ports) > 0 {
		for _, p := range d.Ports.Ports {
			numbers = append(numbers, uint64(p.Number))
			names = append(names, p.Name)
		}
		return numbers, names
	}
	rs := info.Resources.PortRanges()
	numbers = rs.Values(int(rs.Size()))
	return numbers, make([]string, len(numbers))
}

// Env builds the task's environment as Mesos and Marathon set it: HOST,
// PORT and PORT0…PORTn, PORT_<NAME>, PORTS, the MESOS_* variables, and
// MARATHON_APP_LABELS / MARATHON_APP_LABEL_<NAME> from the task's labels;
// the framework's own variables (Marathon's MARATHON_APP_ID, the app's env)
// come last and win.
func Env(info mesos.TaskInfo, frameworkID, agentID, host, sandbox string) []string {
	env := map[string]string{
		"HOST":               host,
		"MESOS_TASK_ID":      info.TaskID,
		"MESOS_FRAMEWORK_ID": frameworkID,
		"MESOS_AGENT_ID":     agentID,
		"MESOS_SANDBOX":      sandbox,
		"MESOS_DIRECTORY":    sandbox,
		"PATH":               "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
	}
	numbers, names := Ports(info)
	list := make([]string, len(numbers))
	for i, n := range numbers {
		v := strconv.FormatUint(n, 10)
		list[i] = v
		env["PORT"+strconv.Itoa(i)] = v
		if names[i] != "" {
			env["PORT_"+envName(names[i])] = v
		}
	}
	if len(numbers) > 0 {
		env["PORT"] = list[0]
		env["PORTS"] = strings.Join(list, ",")
	}
	if info.Labels != nil && len(info.Labels.Labels) > 0 {
		var keys []string
		for _, l := range info.Labels.Labels {
			name := envName(l.Key)
			keys = append(keys, name)
			env["MARATHON_APP_LABEL_"+name] = l.Value
		}
		env["MARATHON_APP_LABELS"] = strings.Join(keys, " ")
	}
	if info.Command != nil {
		for _, v := range info.Command.Environment {
			env[v.Name] = v.Value
		}
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	sort.Strings(out)
	return out
}

// envName upper-cases a name and turns anything but letters, digits and
// underscores into underscores, as Marathon does for PORT_<NAME> and labels.
func envName(s string) string {
	b := []byte(strings.ToUpper(s))
	for i, c := range b {
		if !(c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '_') {
			b[i] = '_'
		}
	}
	return string(b)
}

// Argv turns a CommandInfo into the process's argv: a shell command line
// (the default) runs under /bin/sh -c; otherwise value is the program and
// the arguments after argv[0] follow.
func Argv(c *mesos.CommandInfo) []string {
	if c == nil {
		return nil
	}
	if c.Shell == nil || *c.Shell {
		return []string{"/bin/sh", "-c", c.Value}
	}
	// Mesos execs value with arguments as the whole argv, arguments[0]
	// included; Marathon sets value to args[0] and arguments to args.
	argv := []string{c.Value}
	if len(c.Arguments) > 1 {
		argv = append(argv, c.Arguments[1:]...)
	}
	return argv
}
