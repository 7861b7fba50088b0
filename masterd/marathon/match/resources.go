package match

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"

	"corral/mesos"
)

// DefaultRole is the only role Corral offers resources for: agents have no
// static reservations and frameworks make no dynamic ones.
const DefaultRole = "*"

// Request is what one instance of an app needs from an offer.
type Request struct {
	CPUs, Mem, Disk, GPUs float64

	// HostPorts holds one entry per port definition or port mapping that
	// needs a host port: 0 for any port of the offer, non-zero for exactly
	// that port. The caller resolves the app definition: a port definition's
	// port goes here only under requirePorts (otherwise it is a service port
	// and the host port is 0), and a port mapping's fixed hostPort always
	// does. Port mappings without a host port (USER networking) have no
	// entry.
	HostPorts []uint32

	// RequirePorts is the app's requirePorts. MatchOffer treats every
	// non-zero HostPorts entry as exact either way; the flag only words the
	// reason when such a port is missing.
	RequirePorts bool

	// AcceptedRoles is the app's acceptedResourceRoles. Empty means
	// Marathon's default, ["*"]. Corral offers only unreserved resources
	// (role "*"), so a list without "*" never matches; other roles in the
	// list are ignored.
	AcceptedRoles []string
}

// Match is what one instance takes from an offer.
type Match struct {
	// Resources go into the TaskInfo: the requested cpus, mem, disk and gpus
	// (those above zero) and the chosen host ports as a ports range.
	Resources mesos.Resources
	// Ports are the chosen host ports in the order of Request.HostPorts:
	// $PORT0, $PORT1, ...
	Ports []uint64
}

// MatchOffer reports whether available holds enough for one instance of
// req and, if so, what that instance takes. Fixed host ports must be
// offered; dynamic ones are the lowest free ports of the offer, consecutive
// where the ranges allow, and never a fixed port of the same request. When
// it does not match, reason lists every shortfall. MatchOfferRand chooses
// dynamic ports as Marathon does, at random.
func MatchOffer(req Request, available mesos.Resources) (Match, bool, string) {
	return MatchOfferRand(req, available, nil)
}

// MatchOfferRand is MatchOffer with Marathon's choice of dynamic ports:
// the free ports of the offer are read as one sequence in ascending order,
// a start is drawn uniformly from rnd, and the dynamic ports are taken
// consecutively from there, wrapping around to the lowest. Marathon
// (PortsMatcher.lazyRandomPortsFromRanges) does this so that a port a task
// just gave up is unlikely to be reused at once by another app while load
// balancers still point at it, and so that one task's ports stay in few
// ranges. A nil rnd starts at the lowest free port. rnd is used, and
// advanced, only when the request has dynamic ports.
func MatchOfferRand(req Request, available mesos.Resources, rnd *rand.Rand) (Match, bool, string) {
	var short []string
	if !acceptsDefaultRole(req.AcceptedRoles) {
		short = append(short, fmt.Sprintf("acceptedResourceRoles %s exclude %q, the only role Corral offers", quoteList(req.AcceptedRoles), DefaultRole))
	}

	want := mesos.Resources{Scalars: map[string]float64{}}
	for _, s := range []struct {
		name string
		v    float64
	}{{mesos.CPUs, req.CPUs}, {mesos.Mem, req.Mem}, {mesos.Disk, req.Disk}, {mesos.GPUs, req.GPUs}} {
		if !(s.v > 0) {
			continue
		}
		one := mesos.Resources{Scalars: map[string]float64{s.name: s.v}}
		if !available.Contains(one) {
			short = append(short, fmt.Sprintf("insufficient %s: %s requested, %s offered", s.name, num(s.v), num(available.Scalar(s.name))))
			continue
		}
		want.Scalars[s.name] = s.v
	}

	ports, why := choosePorts(req, available.PortRanges(), rnd)
	if why != "" {
		short = append(short, why)
	}
	if len(short) > 0 {
		return Match{}, false, strings.Join(short, "; ")
	}
	if len(ports) > 0 {
		want.Ranges = map[string]mesos.Ranges{mesos.Ports: mesos.RangesOf(ports...)}
	}
	if len(want.Scalars) == 0 {
		want.Scalars = nil
	}
	return Match{Resources: want, Ports: ports}, true, ""
}

func acceptsDefaultRole(roles []string) bool {
	return len(roles) == 0 || slices.Contains(roles, DefaultRole)
}

// choosePorts picks the host ports of req from offered, or says why it
// cannot.
func choosePorts(req Request, offered mesos.Ranges, rnd *rand.Rand) ([]uint64, string) {
	if len(req.HostPorts) == 0 {
		return nil, ""
	}
	out := make([]uint64, len(req.HostPorts))
	var fixed []uint64
	var missing []string
	dynamic := 0
	for i, p := range req.HostPorts {
		if p == 0 {
			dynamic++
			continue
		}
		v := uint64(p)
		if slices.Contains(fixed, v) {
			return nil, fmt.Sprintf("host port %d is requested twice", v)
		}
		fixed = append(fixed, v)
		out[i] = v
		if !offered.ContainsValue(v) {
			missing = append(missing, strconv.FormatUint(v, 10))
		}
	}
	if len(missing) > 0 {
		what := "host ports"
		if req.RequirePorts {
			what = "ports required by requirePorts"
		}
		return nil, fmt.Sprintf("insufficient ports: %s %s not offered in %s", what, strings.Join(missing, ", "), offered)
	}
	if dynamic == 0 {
		return out, ""
	}
	free := offered.Sub(mesos.RangesOf(fixed...))
	size := free.Size()
	if size < uint64(dynamic) {
		return nil, fmt.Sprintf("insufficient ports: %d dynamic host ports requested, %d free in %s", dynamic, size, offered)
	}
	var start uint64
	if rnd != nil {
		start = rnd.Uint64N(size)
	}
	picked := take(free, start, dynamic)
	j := 0
	for i, p := range req.HostPorts {
		if p == 0 {
			out[i] = picked[j]
			j++
		}
	}
	return out, ""
}

// take returns n integers of rs, which must hold at least n, starting at
// the start-th one (counting from 0 in ascending order) and wrapping round
// to the lowest.
func take(rs mesos.Ranges, start uint64, n int) []uint64 {
	out := make([]uint64, 0, n)
	// Find the range holding the start-th integer and the offset in it.
	first, off := 0, start
	for first < len(rs) {
		width := rs[first].End - rs[first].Begin // one less than the size, which could overflow
		if off <= width {
			break
		}
		off -= width + 1
		first++
	}
	for k := 0; len(out) < n && k <= len(rs); k++ {
		i := (first + k) % len(rs)
		r := rs[i]
		lo, hi := r.Begin, r.End
		switch {
		case k == 0:
			lo += off // from the start onwards
		case k == len(rs):
			if off == 0 {
				return out // wrapped round to where it began
			}
			hi = r.Begin + off - 1 // the part of the first range before the start
		}
		for v := lo; len(out) < n; v++ {
			out = append(out, v)
			if v == hi { // v++ would wrap at the top of the uint64 space
				break
			}
		}
	}
	return out
}

// num formats a resource quantity as Mesos prints it.
func num(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }
