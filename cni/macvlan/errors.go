package main

import (
	"errors"
	"fmt"
	"strings"

	"github.com/containernetworking/cni/pkg/types"
)

// codeNotAvailable is the spec's STATUS code 50: the plugin cannot serve
// ADD. The cni library has no constant for it.
const codeNotAvailable uint = 50

// codeCheckFailed is corral-macvlan's own error code (the spec leaves 100 and
// up to plugins) for a CHECK that finds the attachment is not what
// prevResult says it is: an interface, address or route missing or changed,
// or the parent gone.
const codeCheckFailed uint = 100

func checkFailed(format string, args ...any) *types.Error {
	return types.NewError(codeCheckFailed, fmt.Sprintf(format, args...), "")
}

// join folds errs, skipping nils, into one error that keeps the CNI code of
// the first (999, internal, when it carries none) and reports the others in
// its details. skel prints only the first *types.Error it finds in a chain,
// so errors.Join would drop the rest.
func join(errs ...error) error {
	var kept []error
	for _, err := range errs {
		if err != nil {
			kept = append(kept, err)
		}
	}
	switch len(kept) {
	case 0:
		return nil
	case 1:
		return kept[0]
	}
	first := &types.Error{Code: types.ErrInternal, Msg: kept[0].Error()}
	var te *types.Error
	if errors.As(kept[0], &te) {
		first = &types.Error{Code: te.Code, Msg: te.Msg, Details: te.Details}
	}
	details := []string{}
	if first.Details != "" {
		details = append(details, first.Details)
	}
	for _, err := range kept[1:] {
		details = append(details, err.Error())
	}
	first.Details = strings.Join(details, "; ")
	return first
}

// delegateError says which delegated plugin failed at what, keeping the
// delegate's CNI code when it returned one (the spec passes delegates'
// errors on to the caller).
func delegateError(plugin, command string, err error) error {
	var te *types.Error
	if errors.As(err, &te) {
		return &types.Error{Code: te.Code, Msg: fmt.Sprintf("IPAM plugin %q %s: %s", plugin, command, te.Msg), Details: te.Details}
	}
	return fmt.Errorf("IPAM plugin %q %s: %w", plugin, command, err)
}

// rollback records how to undo each step of an ADD, so that a failed ADD
// leaves nothing behind: no link in the container, no address held by IPAM.
type rollback struct {
	steps []undoStep
}

type undoStep struct {
	what string
	undo func() error
}

// push records the undo of a step that has been taken (or, for a delegated
// plugin, attempted).
func (r *rollback) push(what string, undo func() error) {
	r.steps = append(r.steps, undoStep{what, undo})
}

// run undoes the recorded steps, last first, all of them even when one
// fails, and returns cause with any failure added to its details.
func (r *rollback) run(cause error) error {
	errs := []error{cause}
	for i := len(r.steps) - 1; i >= 0; i-- {
		s := r.steps[i]
		if err := s.undo(); err != nil {
			errs = append(errs, fmt.Errorf("rolling back: %s: %w", s.what, err))
		}
	}
	r.steps = nil
	return join(errs...)
}
