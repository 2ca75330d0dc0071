package store

// Nullable columns are pointers in the store's structs (nil is NULL);
// Optional and Value convert at the edges.

// Optional is s as a nullable column value: nil (NULL) for "".
func Optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

// Value is what a nullable field holds: the zero value for nil (NULL).
func Value[T any](p *T) T {
	if p == nil {
		var zero T
		return zero
	}
	return *p
}
