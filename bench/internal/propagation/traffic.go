package propagation

import (
	"time"

	"github.com/rgap-project/rgap/bench/internal/traffic"
)

// benchGroup is the group of the propagation listener; benchAddr its i-th
// address.
const benchGroup = traffic.Group

var benchAddr = traffic.Addr

// benchExpire is far longer than a run: nothing expires, nothing is stale.
const benchExpire = time.Hour

// warmupBase is added to the index of warm-up addresses, so that they
// never collide with measured ones (10.0.0.0/9 vs 10.128.0.0/9).
const warmupBase = 1 << 23

// maxAddresses bounds the addresses one run may announce: they must stay
// inside 10.0.0.0/9.
const maxAddresses = warmupBase
