package offer

import (
	"math"
	"testing"
	"time"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" for valid
	}{
		{name: "defaults", edit: func(*Config) {}},
		{name: "zero value", edit: func(c *Config) { *c = Config{} }},
		{name: "weights", edit: func(c *Config) { c.Weights = map[string]float64{"web": 2, "batch": 0.5} }},
		{name: "negative weight", edit: func(c *Config) { c.Weights = map[string]float64{"web": -1} },
			want: `invalid weight -1 for role "web", must be > 0`},
		{name: "zero weight", edit: func(c *Config) { c.Weights = map[string]float64{"web": 0} },
			want: `invalid weight 0 for role "web", must be > 0`},
		{name: "NaN weight", edit: func(c *Config) { c.Weights = map[string]float64{"web": math.NaN()} },
			want: `invalid weight NaN for role "web", must be > 0`},
		{name: "infinite weight", edit: func(c *Config) { c.Weights = map[string]float64{"web": math.Inf(1)} },
			want: `invalid weight +Inf for role "web", must be finite`},
		{name: "empty role", edit: func(c *Config) { c.Weights = map[string]float64{"": 1} },
			want: `invalid role "" in Weights, must not be empty`},
		{name: "negative refuse", edit: func(c *Config) { c.RefuseSeconds = -time.Second },
			want: `invalid RefuseSeconds -1s, must be >= 0`},
		{name: "negative offer timeout", edit: func(c *Config) { c.OfferTimeout = -time.Minute },
			want: `invalid OfferTimeout -1m0s, must be >= 0 (0 disables the timeout)`},
		{name: "empty alternative", edit: func(c *Config) { c.MinAllocatable = []map[string]float64{{"cpus": 1}, {}} },
			want: `invalid MinAllocatable alternative 1, must name at least one resource`},
		{name: "negative minimum", edit: func(c *Config) { c.MinAllocatable = []map[string]float64{{"mem": -32}} },
			want: `invalid MinAllocatable quantity -32 for "mem", must be a finite number >= 0`},
		{name: "unnamed minimum", edit: func(c *Config) { c.MinAllocatable = []map[string]float64{{"": 1}} },
			want: `invalid MinAllocatable alternative 0, resource names must not be empty`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := DefaultConfig()
			tt.edit(&c)
			err := c.Validate()
			switch {
			case tt.want == "" && err != nil:
				t.Errorf("Validate() = %v, want nil", err)
			case tt.want != "" && (err == nil || err.Error() != tt.want):
				t.Errorf("Validate() = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	c := DefaultConfig()
	if c.RefuseSeconds != 5*time.Second || c.OfferTimeout != 0 {
		t.Errorf("DefaultConfig() = %+v, want 5s refusal and no offer timeout", c)
	}
	if len(c.MinAllocatable) != 2 || c.MinAllocatable[0]["cpus"] != 0.01 || c.MinAllocatable[1]["mem"] != 32 {
		t.Errorf("DefaultConfig().MinAllocatable = %v, want cpus:0.01 | mem:32", c.MinAllocatable)
	}
}
