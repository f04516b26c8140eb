package netlimit

import (
	"errors"
	"net"
	"sync"
	"sync/atomic"
)

// Listener is a net.Listener with a cap on open connections. Create it
// with NewListener.
type Listener struct {
	net.Listener
	max      int64
	onRefuse func()
	gauge    Gauge
	open     atomic.Int64
}

// Gauge follows the connections open (a prometheus.Gauge is one).
type Gauge interface{ Add(float64) }

var _ net.Listener = (*Listener)(nil)

// NewListener caps ln at max open connections (max > 0). onRefuse, when
// not nil, is called once for each connection closed for being past the
// cap; gauge, when not nil, follows the connections open.
func NewListener(ln net.Listener, max int, onRefuse func(), gauge Gauge) (*Listener, error) {
	if max <= 0 {
		return nil, errors.New("netlimit: the cap must be positive")
	}
	return &Listener{Listener: ln, max: int64(max), onRefuse: onRefuse, gauge: gauge}, nil
}

// Accept returns the next connection within the cap, closing those past
// it as they come.
func (l *Listener) Accept() (net.Conn, error) {
	for {
		c, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		if l.open.Add(1) <= l.max {
			if l.gauge != nil {
				l.gauge.Add(1)
			}
			return &conn{Conn: c, l: l}, nil
		}
		l.open.Add(-1)
		if l.onRefuse != nil {
			l.onRefuse() // before Close: counted by the time the client sees it
		}
		_ = c.Close()
	}
}

// Open is the number of accepted connections not yet closed.
func (l *Listener) Open() int { return int(l.open.Load()) }

// conn frees its place in the Listener when first closed.
type conn struct {
	net.Conn
	l    *Listener
	once sync.Once
}

func (c *conn) Close() error {
	err := c.Conn.Close()
	c.once.Do(func() {
		c.l.open.Add(-1)
		if c.l.gauge != nil {
			c.l.gauge.Add(-1)
		}
	})
	return err
}
