package config

// SetMaxSpecBytes lowers the limit on the total size of spec texts for a
// test and returns a function that restores it.
func SetMaxSpecBytes(n int) (restore func()) {
	old := maxSpecBytes
	maxSpecBytes = n
	return func() { maxSpecBytes = old }
}
