// Package kafka is the transport of the multi-instance mode (issue 14).
package kafka
