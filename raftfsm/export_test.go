package raftfsm

// SetNoSync turns off fsync of the state file, for tests that apply many
// entries; a crash may then lose or corrupt the file.
func (f *FSM) SetNoSync(noSync bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.noSync = noSync
	f.db.NoSync = noSync
}
