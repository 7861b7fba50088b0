package api

import (
	"reflect"
	"testing"
)

func TestParseLabelSelectors(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want []labelSelector
	}{
		{"env", []labelSelector{{key: "env"}}},
		{"my_label, environment", []labelSelector{{key: "my_label"}, {key: "environment"}}},
		{"environment==production", []labelSelector{{key: "environment", op: "==", values: []string{"production"}}}},
		{"tier!=frontend\\ tier", []labelSelector{{key: "tier", op: "!=", values: []string{"frontend tier"}}}},
		{"a.b-c_d == v", []labelSelector{{key: "a.b-c_d", op: "==", values: []string{"v"}}}},
		{"deployed in (us, eu), deployed notin (aa,bb)", []labelSelector{
			{key: "deployed", op: "in", values: []string{"us", "eu"}},
			{key: "deployed", op: "notin", values: []string{"aa", "bb"}}}},
		{`key\,x==a\=b`, []labelSelector{{key: "key,x", op: "==", values: []string{"a=b"}}}},
		{"index", []labelSelector{{key: "index"}}},
	} {
		got, err := parseLabelSelectors(tc.in)
		if err != nil || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("parseLabelSelectors(%q) = %+v, %v, want %+v", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"", "a==", "a in (b", "a in b", "a,", "a b", "a==b=c", `a\`} {
		if got, err := parseLabelSelectors(in); err == nil {
			t.Errorf("parseLabelSelectors(%q) = %+v, want an error", in, got)
		}
	}
}

func TestLabelSelectorMatches(t *testing.T) {
	labels := map[string]string{"env": "prod", "tier": "web"}
	for _, tc := range []struct {
		q    string
		want bool
	}{
		{"env", true},
		{"missing", false},
		{"env==prod", true},
		{"env==dev", false},
		{"env!=dev", true},
		{"missing!=dev", false}, // every operator needs the label
		{"env in (dev, prod)", true},
		{"env notin (dev, prod)", false},
		{"missing notin (x)", false},
		{"env==prod, tier==web", true},
		{"env==prod, tier==db", false},
	} {
		sels, err := parseLabelSelectors(tc.q)
		if err != nil {
			t.Fatal(err)
		}
		if got := matchAll(sels, labels); got != tc.want {
			t.Errorf("%q matches %v = %v, want %v", tc.q, labels, got, tc.want)
		}
	}
}
