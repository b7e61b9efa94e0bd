package credential

import (
	"cmp"
	"context"
	"slices"
	"strings"

	"github.com/latchkey/latchkey"
)

// Roles and abilities a page at a time, for the admin API. The store lists
// them whole (there are few); these page that list by name, under the same
// rules as Roles and Abilities.

// NameQuery selects roles or abilities to list, by name.
type NameQuery struct {
	Search string // the name contains it (any case)
	Limit  int    // page size; 0 is DefaultPageSize
	Cursor string // the Next of the page before
}

type nameCursor struct {
	N string `json:"n"` // the last name of the page before
}

// RolesPage lists roles by name, a page at a time. It needs what Roles
// needs.
func (s *Service) RolesPage(ctx context.Context, a Actor, q NameQuery) (*Page[*latchkey.Role], error) {
	roles, err := s.Roles(ctx, a)
	if err != nil {
		return nil, err
	}
	return pageByName(roles, func(r *latchkey.Role) string { return r.Name }, q)
}

// AbilitiesPage lists abilities by name, a page at a time. It needs what
// Abilities needs.
func (s *Service) AbilitiesPage(ctx context.Context, a Actor, q NameQuery) (*Page[*latchkey.Ability], error) {
	abilities, err := s.Abilities(ctx, a)
	if err != nil {
		return nil, err
	}
	return pageByName(abilities, func(ab *latchkey.Ability) string { return ab.Name }, q)
}

// pageByName returns the page of all that q asks for, ordered by name as
// Go compares strings (byte by byte), whatever order the store's collation
// gave: a cursor is the last name of its page, and the next page holds the
// names after it.
func pageByName[T any](all []T, name func(T) string, q NameQuery) (*Page[T], error) {
	limit, err := pageSize(q.Limit)
	if err != nil {
		return nil, err
	}
	var c nameCursor
	after, err := decodeCursor(q.Cursor, &c)
	if err != nil {
		return nil, err
	}
	sorted := slices.SortedFunc(slices.Values(all), func(x, y T) int { return cmp.Compare(name(x), name(y)) })
	search := strings.ToLower(q.Search)
	page := &Page[T]{Items: []T{}}
	for _, it := range sorted {
		n := name(it)
		if after && n <= c.N || search != "" && !strings.Contains(strings.ToLower(n), search) {
			continue
		}
		if len(page.Items) == limit {
			page.Next = encodeCursor(nameCursor{N: name(page.Items[limit-1])})
			break
		}
		page.Items = append(page.Items, it)
	}
	return page, nil
}
