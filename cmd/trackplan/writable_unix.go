//go:build unix

package main

import "syscall"

// dirWritable reports whether this process may create files in dir (where
// SQLite keeps a store's journal and shared memory).
func dirWritable(dir string) bool {
	return syscall.Access(dir, 0x2 /* W_OK */) == nil
}
