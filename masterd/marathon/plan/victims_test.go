package plan

import (
	"slices"
	"testing"
	"time"

	"corral/marathon"
)

func TestPickVictims(t *testing.T) {
	t0 := time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC)
	at := func(m int) time.Time { return t0.Add(time.Duration(m) * time.Minute) }
	yes, no := true, false
	running := func(id string, m int) Candidate { return Candidate{ID: id, StagedAt: at(m), Started: true} }
	healthy := func(id string, m int, h *bool) Candidate {
		c := running(id, m)
		c.Healthy = h
		return c
	}
	mixed := []Candidate{
		running("old", 0),
		running("young", 9),
		healthy("sick", 1, &no),
		healthy("well", 8, &yes),
		{ID: "staging", StagedAt: at(2)},
		{ID: "lost", StagedAt: at(3), Started: true, Unreachable: true},
		{ID: "lost-staging", StagedAt: at(4), Unreachable: true},
	}
	tests := []struct {
		name      string
		cands     []Candidate
		n         int
		selection string
		want      []string
	}{
		{"none", mixed, 0, marathon.KillYoungestFirst, nil},
		{"negative", mixed, -2, marathon.KillYoungestFirst, nil},
		{"no candidates", nil, 3, marathon.KillYoungestFirst, nil},
		{"classes, youngest first", mixed, 7, marathon.KillYoungestFirst,
			[]string{"lost-staging", "lost", "staging", "sick", "young", "well", "old"}},
		{"classes, oldest first", mixed, 7, marathon.KillOldestFirst,
			[]string{"lost", "lost-staging", "staging", "sick", "old", "well", "young"}},
		{"more than there are", mixed, 10, marathon.KillOldestFirst,
			[]string{"lost", "lost-staging", "staging", "sick", "old", "well", "young"}},
		{"unreachable first", mixed, 1, marathon.KillOldestFirst, []string{"lost"}},
		{"youngest of the healthy", []Candidate{running("a", 1), running("b", 3), running("c", 2)}, 2,
			marathon.KillYoungestFirst, []string{"b", "c"}},
		{"oldest of the healthy", []Candidate{running("a", 1), running("b", 3), running("c", 2)}, 2,
			marathon.KillOldestFirst, []string{"a", "c"}},
		{"youngest is the default", []Candidate{running("a", 1), running("b", 3)}, 1, "", []string{"b"}},
		{"unknown selection is the default", []Candidate{running("a", 1), running("b", 3)}, 1, "RANDOM", []string{"b"}},
		{"staging, youngest first", []Candidate{{ID: "s1", StagedAt: at(1)}, {ID: "s2", StagedAt: at(2)}, running("r", 9)}, 2,
			marathon.KillYoungestFirst, []string{"s2", "s1"}},
		{"no health checks count as healthy", []Candidate{healthy("checked", 5, &yes), running("unchecked", 1), healthy("bad", 0, &no)}, 2,
			marathon.KillOldestFirst, []string{"bad", "unchecked"}},
		{"ties by ID", []Candidate{running("c", 1), running("a", 1), running("b", 1)}, 3,
			marathon.KillYoungestFirst, []string{"a", "b", "c"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := slices.Clone(tt.cands)
			got := PickVictims(tt.cands, tt.n, tt.selection)
			if !slices.Equal(got, tt.want) {
				t.Errorf("PickVictims(n=%d, %s) = %q, want %q", tt.n, tt.selection, got, tt.want)
			}
			if !slices.Equal(tt.cands, before) {
				t.Errorf("PickVictims reordered its input: %v", tt.cands)
			}
		})
	}
}
