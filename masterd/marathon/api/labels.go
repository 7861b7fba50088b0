package api

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	"corral/marathon"
)

// labelSelector is one term of GET /v2/apps?label=: a label that must
// exist, and with op "==", "!=", "in" or "notin" a condition on its value.
type labelSelector struct {
	key    string
	op     string // "" (exists), "==", "!=", "in", "notin"
	values []string
}

// matches reports whether labels satisfy the selector. Every operator
// needs the label to exist, as in Marathon.
func (s labelSelector) matches(labels map[string]string) bool {
	v, ok := labels[s.key]
	if !ok {
		return false
	}
	switch s.op {
	case "==":
		return v == s.values[0]
	case "!=":
		return v != s.values[0]
	case "in":
		return slices.Contains(s.values, v)
	case "notin":
		return !slices.Contains(s.values, v)
	}
	return true
}

func matchAll(sels []labelSelector, labels map[string]string) bool {
	for _, s := range sels {
		if !s.matches(labels) {
			return false
		}
	}
	return true
}

// parseLabelSelectors reads Marathon's label selector query: comma
// separated terms, all of which must hold, each one of
//
//	key                     the label exists
//	key==value, key!=value  it exists and its value is (not) value
//	key in (v1, v2)         it exists and its value is (not) one of
//	key notin (v1, v2)
//
// Keys and values are made of [-A-Za-z0-9_.]; a backslash escapes any
// other character. A malformed query is a 422, as Marathon's
// IllegalArgumentException.
func parseLabelSelectors(q string) ([]labelSelector, error) {
	p := &selectorParser{s: q}
	var out []labelSelector
	for {
		sel, err := p.term()
		if err != nil {
			return nil, &marathon.Error{Status: http.StatusUnprocessableEntity,
				Message: fmt.Sprintf("Can not parse label selector %s. Reason: %v", q, err)}
		}
		out = append(out, sel)
		p.space()
		if p.done() {
			return out, nil
		}
		if !p.eat(",") {
			return nil, &marathon.Error{Status: http.StatusUnprocessableEntity,
				Message: fmt.Sprintf("Can not parse label selector %s. Reason: unexpected %q at %d", q, p.s[p.i:], p.i)}
		}
	}
}

type selectorParser struct {
	s string
	i int
}

func (p *selectorParser) done() bool { return p.i >= len(p.s) }

func (p *selectorParser) space() {
	for !p.done() && (p.s[p.i] == ' ' || p.s[p.i] == '\t') {
		p.i++
	}
}

func (p *selectorParser) eat(tok string) bool {
	if strings.HasPrefix(p.s[p.i:], tok) {
		p.i += len(tok)
		return true
	}
	return false
}

// word reads a key or value, resolving escapes.
func (p *selectorParser) word() (string, error) {
	var b strings.Builder
	for !p.done() {
		c := p.s[p.i]
		switch {
		case c == '\\':
			if p.i+1 >= len(p.s) {
				return "", fmt.Errorf("dangling escape at %d", p.i)
			}
			b.WriteByte(p.s[p.i+1])
			p.i += 2
			continue
		case c == '-' || c == '_' || c == '.' || ('0' <= c && c <= '9') || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z'):
			b.WriteByte(c)
			p.i++
			continue
		}
		break
	}
	if b.Len() == 0 {
		if p.done() {
			return "", fmt.Errorf("missing label or value at the end")
		}
		return "", fmt.Errorf("unexpected %q at %d", p.s[p.i:], p.i)
	}
	return b.String(), nil
}

func (p *selectorParser) term() (labelSelector, error) {
	p.space()
	key, err := p.word()
	if err != nil {
		return labelSelector{}, err
	}
	sel := labelSelector{key: key}
	p.space()
	switch {
	case p.eat("=="):
		sel.op = "=="
	case p.eat("!="):
		sel.op = "!="
	case p.eat("notin"):
		sel.op = "notin"
	case p.eat("in"):
		sel.op = "in"
	default:
		return sel, nil // existence
	}
	p.space()
	if sel.op == "==" || sel.op == "!=" {
		v, err := p.word()
		if err != nil {
			return sel, err
		}
		sel.values = []string{v}
		return sel, nil
	}
	if !p.eat("(") {
		return sel, fmt.Errorf("expected ( after %s at %d", sel.op, p.i)
	}
	for {
		p.space()
		v, err := p.word()
		if err != nil {
			return sel, err
		}
		sel.values = append(sel.values, v)
		p.space()
		if p.eat(")") {
			return sel, nil
		}
		if !p.eat(",") {
			return sel, fmt.Errorf("expected , or ) at %d", p.i)
		}
	}
}
