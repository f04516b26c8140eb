// Package cputime reads the process's CPU time for the benchmarks that
// report cpu-ns per span or per observation.
package cputime
