package store

import (
	"database/sql/driver"
	"errors"
	"io"
	"net"
	"syscall"
)

// isConnError reports errors that mean "the database cannot be reached now"
// rather than "the query is wrong".
func isConnError(err error) bool {
	var netErr net.Error
	return errors.Is(err, driver.ErrBadConn) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, io.ErrUnexpectedEOF) ||
		errors.Is(err, syscall.ECONNREFUSED) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.As(err, &netErr)
}
