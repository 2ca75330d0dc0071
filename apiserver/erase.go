package apiserver

import (
	"net/http"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/store"
)

// eraseEvent answers a personal-data request for one event: its payload and
// the bodies and headers its deliveries sent and received are erased; the
// delivery log keeps the rest (when, where, how it went).
func (s *Server) eraseEvent(c *gin.Context) {
	out, err := (&store.Retention{DB: s.opts.DB}).Erase(c.Request.Context(), c.Param("id"))
	if err != nil {
		abortWithError(c, err)
		return
	}
	loggerFrom(c).Info("event erased", "event_id", out.EventID, "deliveries", out.Deliveries, "attempts", out.Attempts)
	c.JSON(http.StatusOK, out)
}
