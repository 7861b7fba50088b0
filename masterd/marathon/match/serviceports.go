package match

import (
	"fmt"
	"slices"
)

// maxPort is the highest TCP or UDP port.
const maxPort = 65535

// ServicePorts assigns the service ports of apps: the ports a load balancer
// such as marathon-lb listens on for an app, unique across the cluster.
// Marathon takes them from --local_port_min and --local_port_max, by
// default [10000, 20000].
type ServicePorts struct {
	Min, Max uint32
}

// DefaultServicePorts returns Marathon's default range, [10000, 20000].
func DefaultServicePorts() ServicePorts { return ServicePorts{Min: 10000, Max: 20000} }

// Validate checks that the range is a non-empty range of valid ports.
func (s ServicePorts) Validate() error {
	if s.Min == 0 || s.Max > maxPort || s.Min > s.Max {
		return fmt.Errorf("invalid service port range [%d, %d], must be within [1, %d] with min not above max", s.Min, s.Max, maxPort)
	}
	return nil
}

// Assign returns the service ports of app appID, one for each entry of
// requested (its port definitions' or port mappings' servicePort). used maps
// every service port in the cluster to the app holding it, this app's
// current ports included.
//
//   - A non-zero port is kept as it is, even outside [Min, Max] (Marathon
//     lets users pick any port), unless another app holds it: that is an
//     error naming the holder.
//   - A zero gets, first, one of the ports used attributes to appID that
//     requested does not name, lowest first, as Marathon's group manager
//     hands an updated app back its previous dynamic ports; so an update
//     that repeats the app's original definition, zeros and all, keeps its
//     ports. Callers that kept the previous assignment per index pass those
//     ports instead of zeros, which keeps the order too.
//   - Otherwise a zero gets the lowest port in [Min, Max] that used does not
//     hold and that this call has not assigned; none left is an error.
func (s ServicePorts) Assign(appID string, requested []uint32, used map[uint32]string) ([]uint32, error) {
	if err := s.Validate(); err != nil {
		return nil, err
	}
	out := make([]uint32, len(requested))
	taken := map[uint32]bool{} // ports of this app's result so far
	for i, p := range requested {
		if p == 0 {
			continue
		}
		if p > maxPort {
			return nil, fmt.Errorf("service port %d of app %s is not a valid port, must be in [0, %d]", p, appID, maxPort)
		}
		if taken[p] {
			return nil, fmt.Errorf("service port %d is requested twice by app %s", p, appID)
		}
		if holder, ok := used[p]; ok && holder != appID {
			return nil, fmt.Errorf("service port %d requested by app %s is already used by app %s", p, appID, holder)
		}
		taken[p] = true
		out[i] = p
	}

	var previous []uint32 // this app's ports that requested does not name
	for p, holder := range used {
		if holder == appID && !taken[p] && p >= s.Min && p <= s.Max {
			previous = append(previous, p)
		}
	}
	slices.Sort(previous)

	next := s.Min // no port below next is free for this call
	for i, p := range requested {
		if p != 0 {
			continue
		}
		if len(previous) > 0 {
			out[i], previous = previous[0], previous[1:]
			taken[out[i]] = true
			continue
		}
		for next <= s.Max && (taken[next] || isUsed(used, next)) {
			next++
		}
		if next > s.Max {
			return nil, fmt.Errorf("no free service port in [%d, %d] for app %s: all %d are in use", s.Min, s.Max, appID, s.Max-s.Min+1)
		}
		out[i] = next
		taken[next] = true
		next++
	}
	return out, nil
}

func isUsed(used map[uint32]string, p uint32) bool {
	_, ok := used[p]
	return ok
}
