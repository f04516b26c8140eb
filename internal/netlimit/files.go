package netlimit

import "fmt"

// Reserve is the descriptors kept free beside the capped listeners: the
// API's connections, the state file and its temporary, the logs, the
// listeners themselves and the runtime's own (epoll, pipes).
const Reserve = 256

// FileLimit is the process's open-file limit; ok is false where it cannot
// be read.
func FileLimit() (limit uint64, ok bool) { return fileLimit() }

// CheckFiles reports an error when need descriptors (the listeners' caps
// plus Reserve) exceed the open-file limit. what names the caps for the
// message, e.g. "2 OTLP listeners × --otlp-max-connections 4096".
func CheckFiles(need uint64, what string) error {
	limit, ok := fileLimit()
	if !ok || need <= limit {
		return nil
	}
	return fmt.Errorf("open-file limit (RLIMIT_NOFILE) is %d, but %s plus a reserve of %d need %d: lower the connection caps or raise the limit (ulimit -n, LimitNOFILE=)",
		limit, what, Reserve, need)
}
