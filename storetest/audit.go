package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/latchkey/latchkey"
)

var auditTests = []storeTest{
	{"AppendAndList", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		e := &latchkey.AuditEvent{Time: time.Date(2030, 5, 6, 7, 8, 9, 1500, time.UTC), Action: latchkey.AuditLoginSuccess,
			Actor: `LAB\goran`, ActorID: 7, Target: `LAB\goran`, Method: latchkey.MethodBasic,
			CredentialID: "s1", RemoteAddr: "192.0.2.1", Detail: "first"}
		must(t, s.AppendAudit(ctx, e))
		if e.ID <= 0 || !e.Time.Equal(time.Date(2030, 5, 6, 7, 8, 9, 1000, time.UTC)) {
			t.Fatalf("appended event = %s", show(e))
		}
		dflt := &latchkey.AuditEvent{Action: latchkey.AuditUserCreate, Actor: "cli"}
		must(t, s.AppendAudit(ctx, dflt))
		if dflt.ID <= e.ID || time.Since(dflt.Time) > time.Minute {
			t.Fatalf("second event = %s", show(dflt))
		}
		events, err := s.AuditEvents(ctx, latchkey.AuditFilter{})
		must(t, err)
		equal(t, "events, newest first", events, []*latchkey.AuditEvent{dflt, e})
		wantCode(t, s.AppendAudit(ctx, &latchkey.AuditEvent{}), latchkey.EINVALID)
	}},
	{"Filters", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		base := now().Add(-time.Hour)
		add := func(d time.Duration, action string, actor int64) int64 {
			e := &latchkey.AuditEvent{Time: base.Add(d), Action: action, ActorID: actor}
			must(t, s.AppendAudit(ctx, e))
			return e.ID
		}
		e1 := add(1*time.Minute, latchkey.AuditLoginSuccess, 1)
		e2 := add(2*time.Minute, latchkey.AuditLoginFailure, 0)
		e3 := add(3*time.Minute, latchkey.AuditAPIKeyCreate, 1)
		e4 := add(4*time.Minute, "loginx", 2)
		e5 := add(5*time.Minute, latchkey.AuditLoginSuccess, 2)
		for _, tc := range []struct {
			f    latchkey.AuditFilter
			want []int64
		}{
			{latchkey.AuditFilter{}, []int64{e5, e4, e3, e2, e1}},
			{latchkey.AuditFilter{ActorID: 1}, []int64{e3, e1}},
			{latchkey.AuditFilter{Action: latchkey.AuditLoginSuccess}, []int64{e5, e1}},
			{latchkey.AuditFilter{Action: "login."}, []int64{e5, e2, e1}},
			{latchkey.AuditFilter{Action: "LOGIN."}, []int64{}},
			{latchkey.AuditFilter{Action: "login"}, []int64{}},
			{latchkey.AuditFilter{Since: base.Add(3 * time.Minute)}, []int64{e5, e4, e3}},
			{latchkey.AuditFilter{Action: "login.", ActorID: 2, Since: base}, []int64{e5}},
			{latchkey.AuditFilter{BeforeID: e4}, []int64{e3, e2, e1}},
			{latchkey.AuditFilter{Limit: 2}, []int64{e5, e4}},
		} {
			events, err := s.AuditEvents(ctx, tc.f)
			must(t, err)
			got := []int64{}
			for _, e := range events {
				got = append(got, e.ID)
			}
			equal(t, fmt.Sprintf("%+v", tc.f), got, tc.want)
		}
	}},
	{"Paging", func(t *testing.T, s latchkey.Store) {
		ctx := t.Context()
		var all []int64
		for i := range 250 {
			e := &latchkey.AuditEvent{Action: latchkey.AuditSessionCreate, Detail: fmt.Sprint(i)}
			must(t, s.AppendAudit(ctx, e))
			all = append([]int64{e.ID}, all...)
		}
		first, err := s.AuditEvents(ctx, latchkey.AuditFilter{})
		must(t, err)
		equal(t, "events without a limit", len(first), 100)
		var got []int64
		before := int64(0)
		for {
			page, err := s.AuditEvents(ctx, latchkey.AuditFilter{Limit: 60, BeforeID: before})
			must(t, err)
			if len(page) == 0 {
				break
			}
			for _, e := range page {
				got = append(got, e.ID)
			}
			before = page[len(page)-1].ID
		}
		equal(t, "every event, page by page", got, all)
	}},
}
