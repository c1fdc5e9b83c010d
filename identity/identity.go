// Package identity resolves the ids a person is known by to one id, with
// Segment's identity rules: a message carrying both a userId and an
// anonymousId links the anonymousId to the userId; an alias call links its
// previousId to its userId; links chain, so a → b → c is one person, known by
// c. An id links to at most one userId: the first by event time (ties: the
// smaller userId). A later link of the same id to another userId — a shared
// device — is not followed and counts as a conflict.
//
// A Graph is built from links in any order and gives the same answer for the
// same set of links, so resolving at read time is retroactive: a link that
// arrives after the activity re-attributes all of it.
package identity

import (
	"context"
	"fmt"
	"slices"
	"time"
)

// LinkSource streams the identity links a store holds: for each (id, userID)
// pair, the event time of the first message that linked them.
type LinkSource interface {
	IdentityLinks(ctx context.Context, fn func(id, userID string, at time.Time) error) error
}

// Graph is a set of identity links and what each id resolves to. Add links,
// then read. A graph from Load, or one read once since its last Add, is safe
// for concurrent reads.
type Graph struct {
	index    map[string]int32
	names    []string
	parent   []int32 // the userId the id links to, -1 if none
	parentAt []int64 // unix microseconds of that link
	conflict []bool  // the id was linked to more than one userId
	root     []int32 // resolved on the first read after an Add
	links    int
}

// New returns an empty graph with room for about n ids.
func New(n int) *Graph {
	return &Graph{index: make(map[string]int32, n), names: make([]string, 0, n), parent: make([]int32, 0, n),
		parentAt: make([]int64, 0, n), conflict: make([]bool, 0, n)}
}

// Load reads every link of src into a new graph.
func Load(ctx context.Context, src LinkSource) (*Graph, error) {
	g := New(0)
	if err := src.IdentityLinks(ctx, func(id, userID string, at time.Time) error {
		g.Add(id, userID, at)
		return nil
	}); err != nil {
		return nil, fmt.Errorf("load identity links: %w", err)
	}
	g.resolve()
	return g, nil
}

func (g *Graph) node(id string) int32 {
	if i, ok := g.index[id]; ok {
		return i
	}
	i := int32(len(g.names))
	g.index[id] = i
	g.names = append(g.names, id)
	g.parent = append(g.parent, -1)
	g.parentAt = append(g.parentAt, 0)
	g.conflict = append(g.conflict, false)
	return i
}

// Add records that a message at event time at linked id (an anonymousId or
// an alias's previousId) to userID. Empty ids and self-links are ignored.
func (g *Graph) Add(id, userID string, at time.Time) {
	if id == "" || userID == "" || id == userID {
		return
	}
	g.root = nil
	g.links++
	from, to := g.node(id), g.node(userID)
	t := at.UnixMicro()
	switch p := g.parent[from]; {
	case p < 0:
		g.parent[from], g.parentAt[from] = to, t
	case p == to:
		g.parentAt[from] = min(g.parentAt[from], t)
	default:
		g.conflict[from] = true
		if t < g.parentAt[from] || t == g.parentAt[from] && userID < g.names[p] {
			g.parent[from], g.parentAt[from] = to, t
		}
	}
}

// resolve computes every id's root: follow the links to an id that links
// nowhere. In a cycle (a → b, later b → a), the root is the userId of the
// cycle's latest link.
func (g *Graph) resolve() {
	if g.root != nil {
		return
	}
	n := len(g.names)
	root := make([]int32, n)
	for i := range root {
		root[i] = -1
	}
	onPath := make([]bool, n)
	var path []int32
	for start := range int32(n) {
		if root[start] >= 0 {
			continue
		}
		path = path[:0]
		r := int32(-1)
		for at := start; ; {
			if root[at] >= 0 {
				r = root[at]
				break
			}
			if onPath[at] {
				r = g.cycleRoot(path[slices.Index(path, at):])
				break
			}
			if g.parent[at] < 0 {
				r = at
				break
			}
			onPath[at] = true
			path = append(path, at)
			at = g.parent[at]
		}
		for _, p := range path {
			root[p], onPath[p] = r, false
		}
		if root[start] < 0 {
			root[start] = r
		}
	}
	g.root = root
}

// cycleRoot picks the root of a cycle of links: the target of its latest
// link (ties: the larger id), so the person is known by the latest userId.
func (g *Graph) cycleRoot(cycle []int32) int32 {
	best := cycle[0]
	for _, c := range cycle[1:] {
		if g.parentAt[c] > g.parentAt[best] ||
			g.parentAt[c] == g.parentAt[best] && g.names[g.parent[c]] > g.names[g.parent[best]] {
			best = c
		}
	}
	return g.parent[best]
}

// Resolve returns the id the person known as id is known by: id itself when
// it links nowhere.
func (g *Graph) Resolve(id string) string {
	i, ok := g.index[id]
	if !ok {
		return id
	}
	g.resolve()
	return g.names[g.root[i]]
}

// Merged reports whether id resolves to another id.
func (g *Graph) Merged(id string) bool { return g.Resolve(id) != id }

// Members returns the ids that resolve to root, root excluded, sorted.
func (g *Graph) Members(root string) []string {
	r, ok := g.index[root]
	if !ok {
		return nil
	}
	g.resolve()
	var out []string
	for i, x := range g.root {
		if x == r && int32(i) != r {
			out = append(out, g.names[i])
		}
	}
	slices.Sort(out)
	return out
}

// Stats counts what the graph holds.
type Stats struct {
	// IDs is the number of distinct ids in links; Merged how many resolve
	// to another id.
	IDs, Merged int
	// Conflicts counts ids linked to more than one userId (shared
	// devices): only their first link is followed.
	Conflicts int
}

// Stats counts the graph's ids, merged ids and conflicts.
func (g *Graph) Stats() Stats {
	g.resolve()
	s := Stats{IDs: len(g.names)}
	for i, r := range g.root {
		if r != int32(i) {
			s.Merged++
		}
		if g.conflict[i] {
			s.Conflicts++
		}
	}
	return s
}

// Len is the number of ids the graph holds.
func (g *Graph) Len() int { return len(g.names) }
