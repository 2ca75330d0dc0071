package activities

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"net/smtp"
	"net/textproto"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/triggerflow/triggerflow/domain"
)

// ActionEmailSend is the name of the email.send action.
const ActionEmailSend = "email.send"

// Limits of one email.send step.
const (
	MaxEmailRecipients = 50
	MaxEmailSubject    = 998 // RFC 5322 line length
	MaxEmailBody       = 1 << 20
	smtpTimeout        = 30 * time.Second
)

func init() {
	RegisterAction(NewAction(domain.ActionSpec{
		Name: ActionEmailSend,
		Description: "Sends an e-mail through the installation's SMTP server (TRIGGERFLOW_SMTP_URL). " +
			"A 5xx answer of the server fails the step at once; 4xx answers and connection errors are retried.",
		Params: []domain.ParamSpec{
			{Name: "to", Type: domain.ParamArray, Required: true, Format: domain.FormatEmail,
				Description: "recipients: a list of addresses, or a comma-separated text"},
			{Name: "subject", Type: domain.ParamString, Required: true, Description: "the subject line; a template"},
			{Name: "body", Type: domain.ParamString, Required: true, Description: "the message text; a template"},
			{Name: "html", Type: domain.ParamBoolean, Description: "send the body as HTML instead of plain text"},
		},
		Outputs: []domain.OutputField{
			{Path: "to", Type: domain.ParamArray, Description: "the addresses the server accepted"},
			{Path: "message_id", Type: domain.ParamString, Description: "the Message-ID header sent"},
		},
	}, (*Actions).SendEmail))
}

// EmailSendInput is the rendered params of email.send.
type EmailSendInput struct {
	To      StringList `json:"to"`
	Subject string     `json:"subject"`
	Body    string     `json:"body"`
	HTML    bool       `json:"html"`
}

// EmailSendResult is an email.send step's output.
type EmailSendResult struct {
	To        []string `json:"to"`
	MessageID string   `json:"message_id"`
}

// SMTPConfig is a parsed TRIGGERFLOW_SMTP_URL.
type SMTPConfig struct {
	Host     string
	Port     string
	Username string
	Password string
	From     *mail.Address
	// ImplicitTLS is smtps://: TLS from the first byte (port 465).
	ImplicitTLS bool
	// RequireTLS refuses a server that does not offer STARTTLS
	// (?starttls=require); by default STARTTLS is used when offered.
	RequireTLS bool
}

// ParseSMTPURL reads smtp://[user[:pass]@]host[:port]?from=addr[&starttls=require]
// or smtps://… (implicit TLS). The port defaults to 25 for smtp and 465 for
// smtps; from is required.
func ParseSMTPURL(raw string) (SMTPConfig, error) {
	var c SMTPConfig
	u, err := url.Parse(strings.TrimSpace(raw))
	if err != nil {
		return c, fmt.Errorf("SMTP URL: %v", err)
	}
	switch u.Scheme {
	case "smtp":
		c.Port = "25"
	case "smtps":
		c.Port, c.ImplicitTLS = "465", true
	default:
		return c, fmt.Errorf("SMTP URL must start with smtp:// or smtps://")
	}
	c.Host = u.Hostname()
	if c.Host == "" {
		return c, fmt.Errorf("SMTP URL names no host")
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || n < 1 || n > 65535 {
			return c, fmt.Errorf("SMTP URL port %q is not a port", p)
		}
		c.Port = p
	}
	if u.User != nil {
		c.Username = u.User.Username()
		c.Password, _ = u.User.Password()
	}
	q := u.Query()
	from := q.Get("from")
	if from == "" {
		return c, fmt.Errorf("SMTP URL needs ?from=<address>, the sender of every message")
	}
	if c.From, err = mail.ParseAddress(from); err != nil {
		return c, fmt.Errorf("SMTP URL from=%q is not an address", from)
	}
	switch q.Get("starttls") {
	case "", "auto":
	case "require":
		c.RequireTLS = true
	default:
		return c, fmt.Errorf("SMTP URL starttls must be auto or require")
	}
	return c, nil
}

// SendEmail sends one message. Its Message-ID is derived from the workflow
// run and activity, so a receiver can tell a retried send from a new one.
func (a *Actions) SendEmail(ctx context.Context, in EmailSendInput) (EmailSendResult, error) {
	var res EmailSendResult
	if strings.TrimSpace(a.Settings.SMTPURL) == "" {
		return res, permanentActionError("email.send is not configured: set TRIGGERFLOW_SMTP_URL on the worker")
	}
	cfg, err := ParseSMTPURL(a.Settings.SMTPURL)
	if err != nil {
		return res, permanentActionError("%v", err)
	}
	var rcpts []*mail.Address
	for _, s := range dedupe(in.To) {
		addr, err := mail.ParseAddress(s)
		if err != nil {
			return res, permanentActionError("to: %q is not an e-mail address", s)
		}
		rcpts = append(rcpts, addr)
	}
	switch {
	case len(rcpts) == 0:
		return res, permanentActionError("to is empty: name at least one recipient")
	case len(rcpts) > MaxEmailRecipients:
		return res, permanentActionError("to names %d recipients; at most %d are allowed", len(rcpts), MaxEmailRecipients)
	case len(in.Subject) > MaxEmailSubject:
		return res, permanentActionError("subject is longer than %d bytes", MaxEmailSubject)
	case len(in.Body) > MaxEmailBody:
		return res, permanentActionError("body is larger than %d bytes", MaxEmailBody)
	}
	info := stepInfoOf(ctx)
	sum := sha256.Sum256([]byte(info.WorkflowID + "\x00" + info.StepID))
	res.MessageID = "<" + hex.EncodeToString(sum[:16]) + "@triggerflow>"
	msg := buildEmail(cfg.From, rcpts, in.Subject, in.Body, in.HTML, res.MessageID, time.Now())
	if err := sendSMTP(ctx, cfg, rcpts, msg); err != nil {
		return EmailSendResult{}, err
	}
	for _, r := range rcpts {
		res.To = append(res.To, r.Address)
	}
	return res, nil
}

// buildEmail writes an RFC 5322 message: UTF-8 headers encoded, the body
// quoted-printable, and no CR or LF that could inject a header.
func buildEmail(from *mail.Address, to []*mail.Address, subject, body string, html bool, messageID string, now time.Time) []byte {
	var b bytes.Buffer
	header := func(k, v string) {
		b.WriteString(k + ": " + strings.NewReplacer("\r", " ", "\n", " ").Replace(v) + "\r\n")
	}
	tos := make([]string, len(to))
	for i, a := range to {
		tos[i] = a.String()
	}
	header("From", from.String())
	header("To", strings.Join(tos, ", "))
	header("Subject", mime.QEncoding.Encode("utf-8", subject))
	header("Date", now.UTC().Format(time.RFC1123Z))
	header("Message-ID", messageID)
	header("MIME-Version", "1.0")
	ctype := "text/plain"
	if html {
		ctype = "text/html"
	}
	header("Content-Type", ctype+"; charset=utf-8")
	header("Content-Transfer-Encoding", "quoted-printable")
	header("X-Mailer", "TriggerFlow")
	b.WriteString("\r\n")
	qp := quotedprintable.NewWriter(&b)
	_, _ = qp.Write([]byte(strings.ReplaceAll(strings.ReplaceAll(body, "\r\n", "\n"), "\n", "\r\n")))
	_ = qp.Close()
	return b.Bytes()
}

// sendSMTP delivers msg. SMTP 5xx replies are permanent; 4xx replies and
// network errors are retryable.
func sendSMTP(ctx context.Context, cfg SMTPConfig, rcpts []*mail.Address, msg []byte) error {
	deadline := time.Now().Add(smtpTimeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	addr := net.JoinHostPort(cfg.Host, cfg.Port)
	dialer := &net.Dialer{Deadline: deadline}
	var conn net.Conn
	var err error
	if cfg.ImplicitTLS {
		conn, err = (&tls.Dialer{NetDialer: dialer, Config: &tls.Config{ServerName: cfg.Host}}).DialContext(ctx, "tcp", addr)
	} else {
		conn, err = dialer.DialContext(ctx, "tcp", addr)
	}
	if err != nil {
		return retryableActionError(0, nil, "connect to SMTP server %s: %v", addr, err)
	}
	_ = conn.SetDeadline(deadline)
	c, err := smtp.NewClient(conn, cfg.Host)
	if err != nil {
		conn.Close()
		return smtpError("greeting", err)
	}
	defer c.Close()
	if !cfg.ImplicitTLS {
		if ok, _ := c.Extension("STARTTLS"); ok {
			if err := c.StartTLS(&tls.Config{ServerName: cfg.Host}); err != nil {
				return smtpError("STARTTLS", err)
			}
		} else if cfg.RequireTLS {
			return permanentActionError("SMTP server %s does not offer STARTTLS, which the SMTP URL requires", addr)
		}
	}
	if cfg.Username != "" {
		// PlainAuth refuses to send the password unencrypted except to localhost.
		if err := c.Auth(smtp.PlainAuth("", cfg.Username, cfg.Password, cfg.Host)); err != nil {
			return smtpError("AUTH", err)
		}
	}
	if err := c.Mail(cfg.From.Address); err != nil {
		return smtpError("MAIL FROM", err)
	}
	for _, r := range rcpts {
		if err := c.Rcpt(r.Address); err != nil {
			return smtpError("RCPT TO "+r.Address, err)
		}
	}
	w, err := c.Data()
	if err != nil {
		return smtpError("DATA", err)
	}
	if _, err := w.Write(msg); err != nil {
		return smtpError("DATA", err)
	}
	if err := w.Close(); err != nil {
		return smtpError("end of DATA", err)
	}
	_ = c.Quit()
	return nil
}

func smtpError(stage string, err error) error {
	var tp *textproto.Error
	if errors.As(err, &tp) && tp.Code >= 500 {
		return permanentActionError("SMTP %s refused: %d %s", stage, tp.Code, tp.Msg)
	}
	return retryableActionError(0, nil, "SMTP %s: %v", stage, err)
}
