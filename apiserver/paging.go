package apiserver

import (
	"fmt"
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/domain"
)

// listResponse is the envelope of every list (API.md).
type listResponse[T any] struct {
	Items   []T `json:"items"`
	Page    int `json:"page"`
	PerPage int `json:"per_page"`
	Total   int `json:"total"`
}

// pageFrom reads ?page=&per_page=&sort= and checks sort against allowed
// fields (each may be prefixed with "-" for descending).
func pageFrom(c *gin.Context, sortable ...string) (domain.Page, error) {
	fields := domain.FieldErrors{}
	page, err := queryInt(c, "page", 1)
	if err != nil {
		fields.Add("page", err.Error())
	} else if page < 1 {
		fields.Add("page", "must be 1 or more")
	}
	perPage, err := queryInt(c, "per_page", domain.DefaultPerPage)
	if err != nil {
		fields.Add("per_page", err.Error())
	} else if perPage < 1 || perPage > domain.MaxPerPage {
		fields.Add("per_page", fmt.Sprintf("must be between 1 and %d", domain.MaxPerPage))
	}
	sort := c.Query("sort")
	if sort != "" {
		name := sort
		if name[0] == '-' {
			name = name[1:]
		}
		ok := false
		for _, f := range sortable {
			if f == name {
				ok = true
			}
		}
		if !ok {
			fields.Add("sort", fmt.Sprintf("cannot sort by %q; sortable fields: %v", sort, sortable))
		}
	}
	if err := fields.Err(); err != nil {
		return domain.Page{}, err
	}
	return domain.Page{Number: page, PerPage: perPage, Sort: sort}, nil
}

// respondList writes one page of items, mapping each with conv.
func respondList[S, T any](c *gin.Context, p domain.Page, list domain.List[S], conv func(S) T) {
	items := make([]T, 0, len(list.Items))
	for _, it := range list.Items {
		items = append(items, conv(it))
	}
	c.JSON(http.StatusOK, listResponse[T]{Items: items, Page: p.Number, PerPage: p.PerPage, Total: list.Total})
}
