package apiserver

import (
	"time"

	"github.com/gin-gonic/gin"

	"github.com/triggerflow/triggerflow/store"
)

// notificationResponse is one message the notify action left for a user.
type notificationResponse struct {
	ID        string    `json:"id"`
	UserID    string    `json:"user_id"`
	Text      string    `json:"text"`
	RunID     string    `json:"run_id"`
	CreatedAt time.Time `json:"created_at"`
}

// listNotifications answers ?user_id= (and optionally ?run_id=), newest first.
func (s *Server) listNotifications(c *gin.Context) {
	p, err := pageFrom(c, "created_at")
	if err != nil {
		abortWithError(c, err)
		return
	}
	f := store.NotificationFilter{UserID: c.Query("user_id"), RunID: c.Query("run_id")}
	list, err := (&store.Notifications{DB: s.opts.DB}).List(c.Request.Context(), f, p)
	if err != nil {
		abortWithError(c, err)
		return
	}
	respondList(c, p, list, func(n *store.Notification) notificationResponse {
		return notificationResponse{ID: n.ID, UserID: n.UserID, Text: n.Text, RunID: n.RunID, CreatedAt: n.CreatedAt}
	})
}
