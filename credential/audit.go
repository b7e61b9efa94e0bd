package credential

import (
	"context"

	"github.com/latchkey/latchkey"
)

// audit records e. The audit log must not make a request fail: a write that
// fails is logged, with the action and target only.
func (s *Service) audit(ctx context.Context, e *latchkey.AuditEvent) {
	if e.Time.IsZero() {
		e.Time = s.now()
	}
	if err := s.store.AppendAudit(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("could not write the audit log", "action", e.Action, "target", e.Target, "err", err)
	}
}

func actorID(a Actor) int64 {
	if a == nil {
		return 0
	}
	return a.UserID
}

func actorMethod(a Actor) string {
	if a == nil {
		return MethodOperator
	}
	return a.Method
}
