package store

import (
	"database/sql/driver"
	"encoding/json"
	"fmt"
)

// jsonb scans and writes a value as a PostgreSQL jsonb column.
type jsonb[T any] struct{ V T }

func (j jsonb[T]) Value() (driver.Value, error) {
	b, err := json.Marshal(j.V)
	if err != nil {
		return nil, err
	}
	return string(b), nil
}

func (j *jsonb[T]) Scan(src any) error {
	var b []byte
	switch v := src.(type) {
	case nil:
		var zero T
		j.V = zero
		return nil
	case []byte:
		b = v
	case string:
		b = []byte(v)
	default:
		return fmt.Errorf("jsonb: cannot scan %T", src)
	}
	return json.Unmarshal(b, &j.V)
}

var jsonMarshal = json.Marshal
