package network

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"slices"
	"strings"

	"corral/atomicfile"
	"corral/mesos"
)

// record is what a task's network consists of, kept in the state directory
// until it is all undone.
type record struct {
	ID       string              `json:"id"`
	NetNS    string              `json:"netns"`
	Bridge   *bridgeAttachment   `json:"bridge,omitempty"`
	CNI      []cniAttachment     `json:"cni,omitempty"`
	Forwards []forward           `json:"forwards,omitempty"`
	Infos    []mesos.NetworkInfo `json:"network_infos,omitempty"`
}

type bridgeAttachment struct {
	Veth string     `json:"veth"`
	IP   netip.Addr `json:"ip"`
}

func (m *Manager) writeRecord(rec record) error {
	b, err := json.Marshal(rec)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(m.recordPath(rec.ID), b, 0o600); err != nil {
		return fmt.Errorf("recording the network of task %s: %w", rec.ID, err)
	}
	return nil
}

func (m *Manager) readRecord(id string) (record, bool, error) {
	b, err := os.ReadFile(m.recordPath(id))
	if errors.Is(err, os.ErrNotExist) {
		return record{}, false, nil
	}
	if err != nil {
		return record{}, false, fmt.Errorf("reading the network record of task %s: %w", id, err)
	}
	var rec record
	if err := json.Unmarshal(b, &rec); err != nil {
		return record{}, false, fmt.Errorf("decoding the network record of task %s: %w", id, err)
	}
	return rec, true, nil
}

func (m *Manager) records() ([]record, error) {
	entries, err := os.ReadDir(recordDir(m.cfg))
	if err != nil {
		return nil, fmt.Errorf("reading the network records: %w", err)
	}
	var out []record
	var errs []error
	for _, e := range entries {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok {
			continue
		}
		rec, ok, err := m.readRecord(id)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if ok {
			out = append(out, rec)
		}
	}
	slices.SortFunc(out, func(a, b record) int { return strings.Compare(a.ID, b.ID) })
	return out, errors.Join(errs...)
}
