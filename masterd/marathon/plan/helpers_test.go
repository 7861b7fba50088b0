package plan

import (
	"strings"

	"corral/marathon"
	"corral/masterd/marathon/model"
)

// app returns a command app with n instances and the given dependencies.
func app(id string, n int, deps ...string) marathon.App {
	a := marathon.NewApp(id)
	a.Cmd = "sleep 1000"
	a.Instances = n
	a.Dependencies = deps
	return a
}

// with returns a after f changed it.
func with(a marathon.App, f func(*marathon.App)) marathon.App {
	f(&a)
	return a
}

// root builds a root of apps and groups.
func root(apps []marathon.App, groups ...model.Group) model.Root {
	r := model.Root{Apps: map[string]marathon.App{}, Groups: map[string]model.Group{}}
	for _, a := range apps {
		r.Apps[a.ID] = a
	}
	for _, g := range groups {
		r.Groups[g.ID] = g
	}
	return r
}

// render writes steps one per string, "Action /a /b", actions abbreviated
// to their verb.
func render(steps []marathon.DeploymentStep) []string {
	out := make([]string, 0, len(steps))
	for _, s := range steps {
		var b strings.Builder
		for i, a := range s.Actions {
			if i > 0 {
				b.WriteString(" ")
			}
			b.WriteString(strings.TrimSuffix(a.Action, "Application"))
			b.WriteString(":")
			b.WriteString(a.App)
		}
		out = append(out, b.String())
	}
	return out
}
