// Package e2e holds the end-to-end tests: they build the real rgap binary
// once, run `rgap listener` and `rgap agent` as subprocesses with real output
// plugin subprocesses, and talk to them over real loopback sockets. Tests
// that join multicast groups re-run themselves inside a private network
// namespace (unshare -n) so they never touch the machine's interfaces.
//
// The package has no non-test code besides this comment.
package e2e
