// Package integration holds the end-to-end suite: it runs the built
// ringhook binary as real processes on loopback (three hub nodes, three
// agents and three PBX simulators) and checks the stored state through the
// admin API. Its tests carry the e2e build tag; run them with `make e2e`, or set RINGHOOK_BIN to a built binary and run
// `go test -tags e2e ./integration/...` (without it the harness builds one).
package integration
