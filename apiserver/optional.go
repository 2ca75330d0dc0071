package apiserver

import (
	"bytes"
	"encoding/json"
)

// opt is a PATCH field: Set tells "absent" from "present", Null tells an
// explicit null (reset to default) from a value.
type opt[T any] struct {
	Set  bool
	Null bool
	V    T
}

func (o *opt[T]) UnmarshalJSON(b []byte) error {
	o.Set = true
	if bytes.Equal(bytes.TrimSpace(b), []byte("null")) {
		o.Null = true
		return nil
	}
	return json.Unmarshal(b, &o.V)
}
