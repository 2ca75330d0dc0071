// Package openapicheck holds tests to schemas/openapi.json: it wraps the API's
// handler in test servers and checks every answer the test suite receives
// against the document, so the document cannot drift from what the code
// sends. It is for tests only (the teststack and apiserver tests use it).
package openapicheck

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"

	"github.com/getkin/kin-openapi/openapi3"
	"github.com/getkin/kin-openapi/openapi3filter"
	"github.com/getkin/kin-openapi/routers"
	"github.com/getkin/kin-openapi/routers/gorillamux"

	"github.com/triggerflow/triggerflow/schemas"
)

var (
	loadOnce sync.Once
	router   routers.Router
	loadErr  error
)

// Router returns a router over schemas/openapi.json that matches any host,
// with object schemas made strict: an answer carrying a field the document
// does not declare fails, not only one missing a required field.
func Router() (routers.Router, error) {
	loadOnce.Do(func() {
		loader := openapi3.NewLoader()
		doc, err := loader.LoadFromData(schemas.OpenAPI)
		if err != nil {
			loadErr = fmt.Errorf("load openapi.json: %w", err)
			return
		}
		if err := doc.Validate(context.Background()); err != nil {
			loadErr = fmt.Errorf("openapi.json is not a valid document: %w", err)
			return
		}
		forbidUndeclaredFields(doc)
		doc.Servers = nil // test servers listen on random ports
		router, loadErr = gorillamux.NewRouter(doc)
	})
	return router, loadErr
}

// forbidUndeclaredFields sets additionalProperties: false on every object
// schema that lists its properties and says nothing about others. Free-form
// objects (event data, step params) list none and stay open.
func forbidUndeclaredFields(doc *openapi3.T) {
	seen := map[*openapi3.Schema]bool{}
	var walk func(ref *openapi3.SchemaRef)
	walk = func(ref *openapi3.SchemaRef) {
		if ref == nil || ref.Value == nil || seen[ref.Value] {
			return
		}
		s := ref.Value
		seen[s] = true
		if len(s.Properties) > 0 && s.AdditionalProperties.Has == nil && s.AdditionalProperties.Schema == nil &&
			len(s.AllOf) == 0 && len(s.OneOf) == 0 && len(s.AnyOf) == 0 {
			no := false
			s.AdditionalProperties.Has = &no
		}
		for _, p := range s.Properties {
			walk(p)
		}
		walk(s.Items)
		walk(s.AdditionalProperties.Schema)
		for _, list := range [][]*openapi3.SchemaRef{s.AllOf, s.OneOf, s.AnyOf} {
			for _, sub := range list {
				walk(sub)
			}
		}
	}
	for _, s := range doc.Components.Schemas {
		walk(s)
	}
	for _, item := range doc.Paths.Map() {
		for _, op := range item.Operations() {
			for _, resp := range op.Responses.Map() {
				if resp.Value == nil {
					continue
				}
				for _, mt := range resp.Value.Content {
					walk(mt.Schema)
				}
			}
		}
	}
}

// Handler wraps h so that every answer to a documented route is checked
// against the document: its status must be documented for the operation and
// its body and headers must match the schema. A mismatch fails t.
func Handler(t testing.TB, h http.Handler) http.Handler {
	t.Helper()
	r, err := Router()
	if err != nil {
		t.Fatal(err)
	}
	return http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		rec := &recorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, req)
		if err := Check(r, req, rec.status, rec.Header(), rec.body.Bytes()); err != nil {
			t.Errorf("openapi.json does not describe this answer: %v", err)
		}
	})
}

// Check validates one answer to req against the document. Requests to routes
// the document does not have (gin's 404 for unknown paths, the console's
// assets) are not checked here: TestEveryRouteIsInTheOpenAPIDocument covers
// the routes themselves.
func Check(r routers.Router, req *http.Request, status int, header http.Header, body []byte) error {
	route, params, err := r.FindRoute(req)
	if err != nil {
		return nil
	}
	in := &openapi3filter.ResponseValidationInput{
		RequestValidationInput: &openapi3filter.RequestValidationInput{
			Request: req, PathParams: params, Route: route,
		},
		Status: status,
		Header: header,
		Options: &openapi3filter.Options{
			IncludeResponseStatus: true,
			MultiError:            true,
		},
	}
	in.SetBodyBytes(body)
	if err := openapi3filter.ValidateResponse(req.Context(), in); err != nil {
		return fmt.Errorf("%s %s → %d: %s\nbody: %s", req.Method, req.URL.Path, status, oneLine(err), clip(body))
	}
	return nil
}

func oneLine(err error) string {
	return strings.Join(strings.Fields(err.Error()), " ")
}

func clip(b []byte) string {
	if len(b) > 2000 {
		return string(b[:2000]) + "…"
	}
	return string(b)
}

// recorder passes the answer through and keeps a copy of it.
type recorder struct {
	http.ResponseWriter
	status      int
	wroteHeader bool
	body        bytes.Buffer
}

func (r *recorder) WriteHeader(code int) {
	if !r.wroteHeader {
		r.status, r.wroteHeader = code, true
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(b []byte) (int, error) {
	r.wroteHeader = true
	r.body.Write(b)
	return r.ResponseWriter.Write(b)
}

// Flush lets streaming answers through.
func (r *recorder) Flush() {
	if f, ok := r.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}
