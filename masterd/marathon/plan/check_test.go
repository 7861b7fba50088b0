package plan

import (
	"reflect"
	"testing"

	"corral/marathon"
	"corral/masterd/marathon/model"
)

func TestCheckDependencies(t *testing.T) {
	cyclic := func(cycles ...string) marathon.ErrorDetail {
		d := marathon.ErrorDetail{Path: "/", Errors: []string{MessageCyclicDependencies}}
		for _, c := range cycles {
			d.Errors = append(d.Errors, "dependency cycle: "+c)
		}
		return d
	}
	tests := []struct {
		name string
		root model.Root
		want []marathon.ErrorDetail
	}{{
		name: "empty",
		root: model.Root{},
	}, {
		name: "app, recorded group, implied group and root",
		root: root([]marathon.App{
			app("/db/pg", 1), app("/web", 1, "/db/pg", "/db", "/empty"), app("/tools/x/y", 1),
			app("/prod/api", 1, "../tools"),
		}, model.Group{ID: "/empty"}),
	}, {
		name: "group dependencies",
		root: root([]marathon.App{app("/front/ui", 1), app("/back/api", 1)},
			model.Group{ID: "/front", Dependencies: []string{"/back", "../back/api"}}),
	}, {
		name: "unknown absolute app dependency",
		root: root([]marathon.App{app("/a", 1, "/b", "/nope")}, model.Group{ID: "/b"}),
		want: []marathon.ErrorDetail{{Path: "/apps(/a)/dependencies(1)",
			Errors: []string{`unknown dependency "/nope": no app or group has this ID`}}},
	}, {
		name: "unknown relative app dependency names its resolution",
		root: root([]marathon.App{app("/prod/web", 1, "db")}),
		want: []marathon.ErrorDetail{{Path: "/apps(/prod/web)/dependencies(0)",
			Errors: []string{`unknown dependency "db" (/prod/db): no app or group has this ID`}}},
	}, {
		name: "a prefix that is not a whole segment is unknown",
		root: root([]marathon.App{app("/prod/web", 1), app("/x", 1, "/pro")}),
		want: []marathon.ErrorDetail{{Path: "/apps(/x)/dependencies(0)",
			Errors: []string{`unknown dependency "/pro": no app or group has this ID`}}},
	}, {
		name: "invalid dependency",
		root: root([]marathon.App{app("/a", 1, "/Bad_ID")}),
		want: []marathon.ErrorDetail{{Path: "/apps(/a)/dependencies(0)", Errors: []string{
			`invalid dependency "/Bad_ID": invalid id "/Bad_ID", segment "Bad_ID" must fully match regular expression '` +
				`^(([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])\.)*([a-z0-9]|[a-z0-9][a-z0-9\-]*[a-z0-9])|(\.|\.\.)$'`,
		}}},
	}, {
		name: "unknown group dependency, relative to the group",
		root: root([]marathon.App{app("/g/a", 1)}, model.Group{ID: "/g", Dependencies: []string{"db"}}),
		want: []marathon.ErrorDetail{{Path: "/groups(/g)/dependencies(0)",
			Errors: []string{`unknown dependency "db" (/g/db): no app or group has this ID`}}},
	}, {
		name: "two-app cycle",
		root: root([]marathon.App{app("/b", 1, "/a"), app("/a", 1, "/b"), app("/c", 1, "/a")}),
		want: []marathon.ErrorDetail{cyclic("/a -> /b -> /a")},
	}, {
		name: "three-app cycle, shortest way round",
		root: root([]marathon.App{app("/a", 1, "/b"), app("/b", 1, "/c"), app("/c", 1, "/a", "/b")}),
		want: []marathon.ErrorDetail{cyclic("/a -> /b -> /c -> /a")},
	}, {
		name: "app depends on its own group",
		root: root([]marathon.App{app("/g/a", 1, "/g"), app("/g/b", 1)}),
		want: []marathon.ErrorDetail{cyclic("/g/a -> /g/a")},
	}, {
		name: "app depends on the root",
		root: root([]marathon.App{app("/a", 1, "/")}),
		want: []marathon.ErrorDetail{cyclic("/a -> /a")},
	}, {
		name: "cycle through a group dependency",
		root: root([]marathon.App{app("/x/a", 1), app("/y/b", 1, "/x/a")},
			model.Group{ID: "/x", Dependencies: []string{"/y"}}),
		want: []marathon.ErrorDetail{cyclic("/x/a -> /y/b -> /x/a")},
	}, {
		name: "two cycles",
		root: root([]marathon.App{
			app("/p", 1, "/q"), app("/q", 1, "/p"), app("/a", 1, "/b"), app("/b", 1, "/a"),
		}),
		want: []marathon.ErrorDetail{cyclic("/a -> /b -> /a", "/p -> /q -> /p")},
	}, {
		name: "unknown dependency and cycle",
		root: root([]marathon.App{app("/a", 1, "/b", "/nope"), app("/b", 1, "/a")}),
		want: []marathon.ErrorDetail{
			{Path: "/apps(/a)/dependencies(1)", Errors: []string{`unknown dependency "/nope": no app or group has this ID`}},
			cyclic("/a -> /b -> /a"),
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := CheckDependencies(tt.root); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("CheckDependencies = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestCheckCycles(t *testing.T) {
	acyclic := root([]marathon.App{app("/a", 1, "/nope"), app("/b", 1, "/a")})
	if got := CheckCycles(acyclic); got != nil {
		t.Errorf("CheckCycles(unknown dependency) = %+v, want nil", got)
	}
	cyclic := root([]marathon.App{app("/a", 1, "/b", "/nope"), app("/b", 1, "/a")})
	want := []marathon.ErrorDetail{{Path: "/", Errors: []string{MessageCyclicDependencies, "dependency cycle: /a -> /b -> /a"}}}
	if got := CheckCycles(cyclic); !reflect.DeepEqual(got, want) {
		t.Errorf("CheckCycles = %+v, want %+v", got, want)
	}
}
