package plan

import (
	"slices"
	"testing"

	"corral/marathon"
	"corral/masterd/marathon/model"
)

func TestCompute(t *testing.T) {
	restamped := func(a marathon.App) marathon.App {
		return with(a, func(a *marathon.App) {
			a.Version = "2024-01-02T00:00:00.000Z"
			a.VersionInfo = &marathon.VersionInfo{LastScalingAt: a.Version}
		})
	}
	newCmd := func(a *marathon.App) { a.Cmd = "sleep 2000" }
	tests := []struct {
		name         string
		original     model.Root
		target       model.Root
		want         []string
		wantAffected []string
	}{{
		name:     "no change",
		original: root([]marathon.App{app("/a", 1)}),
		target:   root([]marathon.App{app("/a", 1)}),
		want:     []string{},
	}, {
		name:     "empty roots",
		original: model.Root{},
		target:   model.Root{},
		want:     []string{},
	}, {
		name:     "only version and lastScalingAt differ",
		original: root([]marathon.App{app("/a", 1)}),
		target:   root([]marathon.App{restamped(app("/a", 1))}),
		want:     []string{},
	}, {
		name:         "new app is started with no instances, then scaled",
		original:     root(nil),
		target:       root([]marathon.App{app("/a", 3)}),
		want:         []string{"Start:/a", "Scale:/a"},
		wantAffected: []string{"/a"},
	}, {
		name:         "new app with no instances is still scaled",
		original:     root(nil),
		target:       root([]marathon.App{app("/a", 0)}),
		want:         []string{"Start:/a", "Scale:/a"},
		wantAffected: []string{"/a"},
	}, {
		name:         "removed app",
		original:     root([]marathon.App{app("/a", 1), app("/b", 1)}),
		target:       root([]marathon.App{app("/b", 1)}),
		want:         []string{"Stop:/a"},
		wantAffected: []string{"/a"},
	}, {
		name:         "instances only",
		original:     root([]marathon.App{app("/a", 1)}),
		target:       root([]marathon.App{restamped(app("/a", 5))}),
		want:         []string{"Scale:/a"},
		wantAffected: []string{"/a"},
	}, {
		name:         "config change",
		original:     root([]marathon.App{app("/a", 1)}),
		target:       root([]marathon.App{with(app("/a", 1), newCmd)}),
		want:         []string{"Restart:/a"},
		wantAffected: []string{"/a"},
	}, {
		name:         "config and instances change",
		original:     root([]marathon.App{app("/a", 1)}),
		target:       root([]marathon.App{with(app("/a", 4), newCmd)}),
		want:         []string{"Restart:/a"},
		wantAffected: []string{"/a"},
	}, {
		name: "forced restart moves lastConfigChangeAt",
		original: root([]marathon.App{with(app("/a", 2), func(a *marathon.App) {
			a.VersionInfo = &marathon.VersionInfo{LastScalingAt: "v1", LastConfigChangeAt: "v1"}
		})}),
		target: root([]marathon.App{with(app("/a", 2), func(a *marathon.App) {
			a.VersionInfo = &marathon.VersionInfo{LastScalingAt: "v2", LastConfigChangeAt: "v2"}
		})}),
		want:         []string{"Restart:/a"},
		wantAffected: []string{"/a"},
	}, {
		name:         "new apps in dependency order",
		original:     root(nil),
		target:       root([]marathon.App{app("/db", 1), app("/web", 1, "/db"), app("/lb", 1, "/web")}),
		want:         []string{"Start:/db Start:/lb Start:/web", "Scale:/db", "Scale:/web", "Scale:/lb"},
		wantAffected: []string{"/db", "/lb", "/web"},
	}, {
		name:         "apps of one depth share a step, sorted",
		original:     root(nil),
		target:       root([]marathon.App{app("/z", 1), app("/a", 1), app("/m", 1, "/z", "/a")}),
		want:         []string{"Start:/a Start:/m Start:/z", "Scale:/a Scale:/z", "Scale:/m"},
		wantAffected: []string{"/a", "/m", "/z"},
	}, {
		name:     "depth counts unchanged dependencies",
		original: root([]marathon.App{app("/a", 1, "/b"), app("/b", 1), app("/c", 1)}),
		target: root([]marathon.App{
			with(app("/a", 1, "/b"), newCmd), app("/b", 1), with(app("/c", 1), newCmd),
		}),
		want:         []string{"Restart:/c", "Restart:/a"},
		wantAffected: []string{"/a", "/c"},
	}, {
		name:     "longest chain decides the depth",
		original: root(nil),
		target: root([]marathon.App{
			app("/a", 1), app("/b", 1, "/a"), app("/c", 1, "/b"), app("/d", 1, "/a", "/c"),
		}),
		want:         []string{"Start:/a Start:/b Start:/c Start:/d", "Scale:/a", "Scale:/b", "Scale:/c", "Scale:/d"},
		wantAffected: []string{"/a", "/b", "/c", "/d"},
	}, {
		name:     "group dependencies apply to every app below the group",
		original: root(nil),
		target: root([]marathon.App{app("/front/ui", 1), app("/front/edge/lb", 1), app("/back/api", 1), app("/back/db", 1)},
			model.Group{ID: "/front", Dependencies: []string{"/back"}}),
		want: []string{
			"Start:/back/api Start:/back/db Start:/front/edge/lb Start:/front/ui",
			"Scale:/back/api Scale:/back/db", "Scale:/front/edge/lb Scale:/front/ui",
		},
		wantAffected: []string{"/back/api", "/back/db", "/front/edge/lb", "/front/ui"},
	}, {
		name:     "relative group dependency is relative to the group",
		original: root(nil),
		target: root([]marathon.App{app("/front/ui", 1), app("/back/api", 1)},
			model.Group{ID: "/front", Dependencies: []string{"../back"}}),
		want:         []string{"Start:/back/api Start:/front/ui", "Scale:/back/api", "Scale:/front/ui"},
		wantAffected: []string{"/back/api", "/front/ui"},
	}, {
		name:     "relative app dependency on an implied group",
		original: root(nil),
		target:   root([]marathon.App{app("/prod/web", 1, "db"), app("/prod/db/pg", 1), app("/prod/db/redis", 1)}),
		want: []string{
			"Start:/prod/db/pg Start:/prod/db/redis Start:/prod/web",
			"Scale:/prod/db/pg Scale:/prod/db/redis", "Scale:/prod/web",
		},
		wantAffected: []string{"/prod/db/pg", "/prod/db/redis", "/prod/web"},
	}, {
		name:         "stops in reverse dependency order",
		original:     root([]marathon.App{app("/db", 1), app("/web", 1, "/db"), app("/lb", 1, "/web"), app("/x", 1)}),
		target:       root(nil),
		want:         []string{"Stop:/lb", "Stop:/web", "Stop:/db Stop:/x"},
		wantAffected: []string{"/db", "/lb", "/web", "/x"},
	}, {
		name:         "stop depth counts the apps that stay",
		original:     root([]marathon.App{app("/lb", 1, "/web"), app("/web", 1), app("/x", 1)}),
		target:       root([]marathon.App{app("/web", 1)}),
		want:         []string{"Stop:/lb", "Stop:/x"},
		wantAffected: []string{"/lb", "/x"},
	}, {
		name:         "independent stops share one step",
		original:     root([]marathon.App{app("/b", 1), app("/a", 1), app("/c", 1)}),
		target:       root([]marathon.App{app("/c", 1)}),
		want:         []string{"Stop:/a Stop:/b"},
		wantAffected: []string{"/a", "/b"},
	}, {
		name:     "stop, start, then scale and restart",
		original: root([]marathon.App{app("/old", 1), app("/r", 1), app("/s", 1), app("/same", 1)}),
		target: root([]marathon.App{
			app("/new", 2), with(app("/r", 1), newCmd), app("/s", 3), app("/same", 1),
		}),
		want:         []string{"Stop:/old", "Start:/new", "Scale:/new Restart:/r Scale:/s"},
		wantAffected: []string{"/new", "/old", "/r", "/s"},
	}, {
		name:         "new app waits for a restarted dependency",
		original:     root([]marathon.App{app("/db", 1)}),
		target:       root([]marathon.App{with(app("/db", 1), newCmd), app("/web", 2, "/db")}),
		want:         []string{"Start:/web", "Restart:/db", "Scale:/web"},
		wantAffected: []string{"/db", "/web"},
	}, {
		name:     "reordered and relative dependencies are no change",
		original: root([]marathon.App{app("/g/a", 1, "/g/b", "/g/c"), app("/g/b", 1), app("/g/c", 1)}),
		target:   root([]marathon.App{app("/g/a", 1, "c", "b"), app("/g/b", 1), app("/g/c", 1)}),
		want:     []string{},
	}, {
		name:         "added dependency restarts the dependent",
		original:     root([]marathon.App{app("/a", 1), app("/b", 1)}),
		target:       root([]marathon.App{app("/a", 1, "/b"), app("/b", 1)}),
		want:         []string{"Restart:/a"},
		wantAffected: []string{"/a"},
	}, {
		name:         "unknown dependency is ignored",
		original:     root(nil),
		target:       root([]marathon.App{app("/a", 1, "/nope")}),
		want:         []string{"Start:/a", "Scale:/a"},
		wantAffected: []string{"/a"},
	}, {
		name:         "a cycle still gives a plan",
		original:     root(nil),
		target:       root([]marathon.App{app("/a", 1, "/b"), app("/b", 1, "/a")}),
		want:         []string{"Start:/a Start:/b", "Scale:/b", "Scale:/a"},
		wantAffected: []string{"/a", "/b"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := Compute(tt.original, tt.target)
			if got := render(p.Steps); !slices.Equal(got, tt.want) {
				t.Errorf("Compute steps = %q, want %q", got, tt.want)
			}
			if !slices.Equal(p.AffectedApps, tt.wantAffected) {
				t.Errorf("Compute affected = %q, want %q", p.AffectedApps, tt.wantAffected)
			}
		})
	}
}

func TestComputeLeavesInputsAlone(t *testing.T) {
	deps := []string{"/c", "b"}
	cons := [][]string{{"z", "UNIQUE"}, {"a", "UNIQUE"}}
	a := with(app("/g/a", 1, deps...), func(a *marathon.App) { a.Constraints = cons })
	orig := root([]marathon.App{a, app("/g/b", 1), app("/c", 1)})
	target := root([]marathon.App{with(a, func(a *marathon.App) { a.Instances = 2 }), app("/g/b", 1), app("/c", 1)})
	Compute(orig, target)
	if got := orig.Apps["/g/a"].Dependencies; !slices.Equal(got, []string{"/c", "b"}) {
		t.Errorf("dependencies after Compute = %q, want them unchanged", got)
	}
	if got := orig.Apps["/g/a"].Constraints[0][0]; got != "z" {
		t.Errorf("first constraint field after Compute = %q, want z", got)
	}
}

func TestComputeIsDeterministic(t *testing.T) {
	var apps []marathon.App
	for _, id := range []string{"/a", "/b", "/c", "/d", "/e", "/f", "/g", "/h"} {
		apps = append(apps, app(id, 1, "/a"))
	}
	apps[0] = app("/a", 1)
	target := root(apps)
	first := render(Compute(root(nil), target).Steps)
	for range 20 {
		if got := render(Compute(root(nil), target).Steps); !slices.Equal(got, first) {
			t.Fatalf("Compute = %q, earlier %q", got, first)
		}
	}
}
