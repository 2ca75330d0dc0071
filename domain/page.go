package domain

// Page limits a list query. Lists are newest first unless Sort says otherwise.
type Page struct {
	Number  int    // 1-based
	PerPage int    // 1..MaxPerPage
	Sort    string // a field name, "-field" for descending; "" = newest first
}

// Paging limits that the API contract fixes.
const (
	DefaultPerPage = 50
	MaxPerPage     = 500
)

// Offset is the number of rows before this page.
func (p Page) Offset() int {
	if p.Number < 1 {
		return 0
	}
	return (p.Number - 1) * p.PerPage
}

// List is one page of results and the total count across all pages.
type List[T any] struct {
	Items []T
	Total int
}
