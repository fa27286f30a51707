// Package integration holds the end-to-end suite: it runs the built
// ringhook binary as real processes on loopback (three hub nodes, three
// agents and three PBX simulators) and checks the stored state through the
// admin API. Its tests carry the e2e build tag. Run them with `make e2e`,
// or with `go test -tags e2e ./integration/...`, which tests the binary
// named by RINGHOOK_BIN or else builds one.
package integration
