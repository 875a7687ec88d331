package main

import "strconv"

// The bench's children are run by internal/procs.

func itoa(i int) string { return strconv.Itoa(i) }
