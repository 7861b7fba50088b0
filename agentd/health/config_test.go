package health

import (
	"context"
	"math"
	"strings"
	"testing"
	"time"

	"corral/mesos"
)

func okExec(context.Context, string) (int, string, error) { return 0, "", nil }

func TestDefaults(t *testing.T) {
	cfg, err := newConfig(mesos.HealthCheck{Type: TypeHTTP}, Target{Port: 31000}, nil)
	if err != nil {
		t.Fatalf("newConfig: %v", err)
	}
	want := config{
		typ:         TypeHTTP,
		delay:       15 * time.Second,
		interval:    60 * time.Second,
		timeout:     20 * time.Second,
		grace:       300 * time.Second,
		maxFailures: 0,
		url:         "http://127.0.0.1:31000/",
		addr:        "127.0.0.1:31000",
	}
	if cfg != want {
		t.Errorf("newConfig(zero HTTP check) = %+v, want %+v", cfg, want)
	}
}

func TestConfig(t *testing.T) {
	yes := true
	tests := []struct {
		name   string
		check  mesos.HealthCheck
		target Target
		exec   Exec
		want   config
	}{
		{
			name: "fractions of seconds",
			check: mesos.HealthCheck{Type: TypeTCP, DelaySeconds: 0.5, IntervalSeconds: 0.25, TimeoutSeconds: 0.1,
				GracePeriodSeconds: 1.5, ConsecutiveFailures: 7},
			target: Target{Host: "10.0.0.2", Port: 8080},
			want: config{typ: TypeTCP, delay: 500 * time.Millisecond, interval: 250 * time.Millisecond,
				timeout: 100 * time.Millisecond, grace: 1500 * time.Millisecond, maxFailures: 7, addr: "10.0.0.2:8080"},
		},
		{
			name:   "check port overrides target port",
			check:  mesos.HealthCheck{Type: TypeHTTP, Port: 9000, HTTPPath: "/health?deep=1"},
			target: Target{Host: "10.0.0.2", Port: 8080},
			want: config{typ: TypeHTTP, delay: DefaultDelay, interval: DefaultInterval, timeout: DefaultTimeout,
				grace: DefaultGracePeriod, url: "http://10.0.0.2:9000/health?deep=1", addr: "10.0.0.2:9000"},
		},
		{
			name:   "path without slash, IPv6 host",
			check:  mesos.HealthCheck{Type: TypeHTTP, HTTPPath: "ping"},
			target: Target{Host: "fd00::2", Port: 80},
			want: config{typ: TypeHTTP, delay: DefaultDelay, interval: DefaultInterval, timeout: DefaultTimeout,
				grace: DefaultGracePeriod, url: "http://[fd00::2]:80/ping", addr: "[fd00::2]:80"},
		},
		{
			name:  "command, shell explicitly true",
			check: mesos.HealthCheck{Type: TypeCommand, Command: &mesos.CommandInfo{Value: "test -f /ready", Shell: &yes}},
			exec:  okExec,
			want: config{typ: TypeCommand, delay: DefaultDelay, interval: DefaultInterval, timeout: DefaultTimeout,
				grace: DefaultGracePeriod, command: "test -f /ready"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := newConfig(tt.check, tt.target, tt.exec)
			if err != nil {
				t.Fatalf("newConfig(%+v) error: %v", tt.check, err)
			}
			if got != tt.want {
				t.Errorf("newConfig(%+v) = %+v, want %+v", tt.check, got, tt.want)
			}
		})
	}
}

func TestNewValidation(t *testing.T) {
	no := false
	tests := []struct {
		name   string
		check  mesos.HealthCheck
		target Target
		exec   Exec
		want   string // in the error
	}{
		{"empty type", mesos.HealthCheck{}, Target{Port: 80}, okExec, `unknown type ""`},
		{"unknown type", mesos.HealthCheck{Type: "HTTPS"}, Target{Port: 80}, okExec, `unknown type "HTTPS"`},
		{"lower-case type", mesos.HealthCheck{Type: "http"}, Target{Port: 80}, okExec, `unknown type "http"`},
		{"HTTP without port", mesos.HealthCheck{Type: TypeHTTP}, Target{Host: "127.0.0.1"}, nil, "invalid port 0"},
		{"TCP without port", mesos.HealthCheck{Type: TypeTCP}, Target{}, nil, "invalid port 0"},
		{"port out of range", mesos.HealthCheck{Type: TypeTCP, Port: 70000}, Target{}, nil, "invalid port 70000"},
		{"COMMAND without command", mesos.HealthCheck{Type: TypeCommand}, Target{}, okExec, "command.value is empty"},
		{"COMMAND with blank command", mesos.HealthCheck{Type: TypeCommand, Command: &mesos.CommandInfo{Value: "  "}}, Target{}, okExec, "command.value is empty"},
		{"COMMAND without exec", mesos.HealthCheck{Type: TypeCommand, Command: &mesos.CommandInfo{Value: "true"}}, Target{}, nil, "exec is nil"},
		{"COMMAND not through the shell", mesos.HealthCheck{Type: TypeCommand, Command: &mesos.CommandInfo{Value: "true", Shell: &no}}, Target{}, okExec, "command.shell is false"},
		{"negative interval", mesos.HealthCheck{Type: TypeTCP, IntervalSeconds: -1}, Target{Port: 80}, nil, "invalid interval_seconds -1"},
		{"NaN timeout", mesos.HealthCheck{Type: TypeTCP, TimeoutSeconds: math.NaN()}, Target{Port: 80}, nil, "invalid timeout_seconds NaN"},
		{"infinite grace period", mesos.HealthCheck{Type: TypeTCP, GracePeriodSeconds: math.Inf(1)}, Target{Port: 80}, nil, "invalid grace_period_seconds +Inf"},
		{"negative delay", mesos.HealthCheck{Type: TypeTCP, DelaySeconds: -0.5}, Target{Port: 80}, nil, "invalid delay_seconds -0.5"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, err := New(tt.check, tt.target, tt.exec, time.Now(), nil)
			if err == nil {
				t.Fatalf("New(%+v, %+v) = %v, want error containing %q", tt.check, tt.target, c, tt.want)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("New(%+v, %+v) error = %q, want it to contain %q", tt.check, tt.target, err, tt.want)
			}
		})
	}
}
