package plan

import (
	"testing"

	"corral/marathon"
)

func TestClassify(t *testing.T) {
	base := with(app("/g/a", 2, "/g/b", "/c"), func(a *marathon.App) {
		a.Version = "v1"
		a.VersionInfo = &marathon.VersionInfo{LastScalingAt: "v1", LastConfigChangeAt: "v1"}
		a.Constraints = [][]string{{"hostname", "UNIQUE"}, {"rack", "GROUP_BY", "2"}}
		a.AcceptedResourceRoles = []string{"*", "web"}
	})
	change := func(f func(*marathon.App)) marathon.App { return with(base, f) }
	seven := 7
	tests := []struct {
		name   string
		target marathon.App
		want   string
	}{
		{"identical", base, ""},
		{"new version, same config", change(func(a *marathon.App) {
			a.Version = "v2"
			a.VersionInfo = &marathon.VersionInfo{LastScalingAt: "v2", LastConfigChangeAt: "v1"}
		}), ""},
		{"instances", change(func(a *marathon.App) {
			a.Instances = 5
			a.VersionInfo = &marathon.VersionInfo{LastScalingAt: "v2", LastConfigChangeAt: "v1"}
		}), marathon.ActionScaleApplication},
		{"scale to zero", change(func(a *marathon.App) { a.Instances = 0 }), marathon.ActionScaleApplication},
		{"lastConfigChangeAt", change(func(a *marathon.App) {
			a.VersionInfo = &marathon.VersionInfo{LastScalingAt: "v2", LastConfigChangeAt: "v2"}
		}), marathon.ActionRestartApplication},
		{"versionInfo dropped", change(func(a *marathon.App) { a.VersionInfo = nil }), marathon.ActionRestartApplication},
		{"cmd", change(func(a *marathon.App) { a.Cmd = "true" }), marathon.ActionRestartApplication},
		{"cpus and instances", change(func(a *marathon.App) { a.Cpus, a.Instances = 2, 3 }), marathon.ActionRestartApplication},
		{"env", change(func(a *marathon.App) { a.Env = marathon.Env{"A": {Value: "1"}} }), marathon.ActionRestartApplication},
		{"env nil vs empty", change(func(a *marathon.App) { a.Env = marathon.Env{} }), ""},
		{"labels", change(func(a *marathon.App) { a.Labels = map[string]string{"k": "v"} }), marathon.ActionRestartApplication},
		{"health check", change(func(a *marathon.App) {
			a.HealthChecks = []marathon.HealthCheck{{Protocol: marathon.HealthTCP}}
		}), marathon.ActionRestartApplication},
		{"upgrade strategy", change(func(a *marathon.App) {
			a.UpgradeStrategy = &marathon.UpgradeStrategy{MinimumHealthCapacity: 0.5}
		}), marathon.ActionRestartApplication},
		{"kill selection", change(func(a *marathon.App) { a.KillSelection = marathon.KillOldestFirst }), marathon.ActionRestartApplication},
		{"kill grace period", change(func(a *marathon.App) { a.TaskKillGracePeriodSeconds = &seven }), marathon.ActionRestartApplication},
		{"dependency added", change(func(a *marathon.App) {
			a.Dependencies = []string{"/g/b", "/c", "/d"}
		}), marathon.ActionRestartApplication},
		{"dependencies reordered and relative", change(func(a *marathon.App) {
			a.Dependencies = []string{"../c", "b", "/g/b"}
		}), ""},
		{"constraints reordered", change(func(a *marathon.App) {
			a.Constraints = [][]string{{"rack", "GROUP_BY", "2"}, {"hostname", "UNIQUE"}}
		}), ""},
		{"constraint changed", change(func(a *marathon.App) {
			a.Constraints = [][]string{{"rack", "GROUP_BY", "3"}, {"hostname", "UNIQUE"}}
		}), marathon.ActionRestartApplication},
		{"roles reordered", change(func(a *marathon.App) { a.AcceptedResourceRoles = []string{"web", "*"} }), ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(base, tt.target); got != tt.want {
				t.Errorf("Classify(%s) = %q, want %q", tt.name, got, tt.want)
			}
			if got, want := ScaleOnly(base, tt.target), tt.want == marathon.ActionScaleApplication; got != want {
				t.Errorf("ScaleOnly(%s) = %v, want %v", tt.name, got, want)
			}
			if got, want := NeedsRestart(base, tt.target), tt.want == marathon.ActionRestartApplication; got != want {
				t.Errorf("NeedsRestart(%s) = %v, want %v", tt.name, got, want)
			}
		})
	}
}

func TestClassifyWithoutVersionInfo(t *testing.T) {
	a := app("/a", 1)
	b := with(a, func(a *marathon.App) { a.Instances, a.Version = 2, "v2" })
	if got := Classify(a, b); got != marathon.ActionScaleApplication {
		t.Errorf("Classify(no versionInfo, instances 1 → 2) = %q, want %q", got, marathon.ActionScaleApplication)
	}
}
