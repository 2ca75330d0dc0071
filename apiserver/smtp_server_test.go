//go:build !fuzzsmoke

package apiserver_test

import (
	"bufio"
	"net"
	"strings"
	"sync"
	"testing"
	"time"
)

// smtpMessage is one message the test SMTP server accepted.
type smtpMessage struct {
	From string
	To   []string
	Data string
}

// smtpServer is a minimal SMTP server on loopback: HELO/EHLO, MAIL, RCPT,
// DATA, RSET, NOOP and QUIT, no TLS and no AUTH. It records every message.
type smtpServer struct {
	Addr string
	ln   net.Listener
	mu   sync.Mutex
	msgs []smtpMessage
}

func startSMTPServer(t *testing.T) *smtpServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	s := &smtpServer{Addr: ln.Addr().String(), ln: ln}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go s.serve(conn)
		}
	}()
	return s
}

func (s *smtpServer) serve(conn net.Conn) {
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(time.Minute))
	r := bufio.NewReader(conn)
	reply := func(line string) { _, _ = conn.Write([]byte(line + "\r\n")) }
	reply("220 localhost test SMTP")
	var cur smtpMessage
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		// The address between < and >; ESMTP parameters (BODY=8BITMIME) follow.
		arg := func(prefix string) string {
			v := strings.TrimSpace(line[min(len(line), len(prefix)):])
			v, _, _ = strings.Cut(strings.TrimPrefix(v, "<"), ">")
			return v
		}
		switch verb {
		case "EHLO":
			reply("250-localhost")
			reply("250 8BITMIME")
		case "HELO", "NOOP":
			reply("250 ok")
		case "RSET":
			cur = smtpMessage{}
			reply("250 ok")
		case "MAIL":
			cur = smtpMessage{From: arg("MAIL FROM:")}
			reply("250 ok")
		case "RCPT":
			cur.To = append(cur.To, arg("RCPT TO:"))
			reply("250 ok")
		case "DATA":
			reply("354 end with <CRLF>.<CRLF>")
			var b strings.Builder
			for {
				l, err := r.ReadString('\n')
				if err != nil {
					return
				}
				if l == ".\r\n" {
					break
				}
				b.WriteString(strings.TrimPrefix(l, ".")) // undo dot-stuffing
			}
			cur.Data = b.String()
			s.mu.Lock()
			s.msgs = append(s.msgs, cur)
			s.mu.Unlock()
			cur = smtpMessage{}
			reply("250 queued")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

// waitForMessage waits until a message arrived and returns it.
func (s *smtpServer) waitForMessage(t *testing.T, timeout time.Duration) smtpMessage {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		s.mu.Lock()
		if len(s.msgs) > 0 {
			m := s.msgs[0]
			s.mu.Unlock()
			return m
		}
		s.mu.Unlock()
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("no message arrived at the SMTP server within %s", timeout)
	return smtpMessage{}
}
