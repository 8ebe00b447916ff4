package happn

import (
	"encoding/json"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/happner-go/happner/happn/security"
	"github.com/happner-go/happner/pathmatch"
)

// eventAction is the action part of a channel ("/ALL@", "/SET@", "/REMOVE@").
type eventAction uint8

const (
	actionAll eventAction = iota
	actionSet
	actionRemove
)

func (a eventAction) accepts(op eventAction) bool { return a == actionAll || a == op }

func (a eventAction) String() string {
	switch a {
	case actionSet:
		return "SET"
	case actionRemove:
		return "REMOVE"
	}
	return "ALL"
}

// subscription is one "on" request of one session.
type subscription struct {
	ref      string
	session  *Session
	action   eventAction
	channel  string // the channel exactly as the client sent it
	path     string // the path publications are matched against
	authPath string // the subscribed path as authorised (after '@')
	nested   bool   // allowed by nested permissions: check each publication
	// perItem is set when a prohibition applies under the pattern: each
	// publication is then checked against the subscriber's permissions.
	perItem atomic.Bool
	as      *security.Session
	deliver func(*Publication) // an in-process subscriber (Server.Subscribe)
	dup     bool               // another subscription of the session has the same channel
	noPeers bool               // skip publications of cluster members' sessions
	depth   int                // variable depth for a trailing "/**", 0 otherwise
	merge   bool               // deliver the raw request data (merge subscriptions)
	meta    json.RawMessage
	options json.RawMessage
	// replicates is set on a cluster member's subscription to one of the
	// replication paths: deliveries on it are replicated out.
	replicates bool
}

// subIndex finds the subscriptions a publication reaches. Subscriptions are
// kept in a trie of path segments: a '*' segment has its own branch, a
// trailing "/**" hangs on the node of its prefix with its depth, and "*"
// subscriptions (every path) are kept aside. A lookup walks at most two
// branches per segment, so its cost depends on the path, not on how many
// subscriptions there are.
type subIndex struct {
	// dupChannels counts subscriptions that share their session and
	// channel with an earlier one; while it is zero, publications need not
	// deduplicate recipients.
	dupChannels atomic.Int64

	mu        sync.RWMutex
	root      trieNode
	any       []*subscription
	bySession map[*Session][]*subscription
}

type trieNode struct {
	children map[string]*trieNode
	star     *trieNode
	subs     []*subscription // subscriptions whose pattern ends here
	deep     []*subscription // "/**" subscriptions rooted here
}

func newSubIndex() *subIndex {
	return &subIndex{bySession: make(map[*Session][]*subscription)}
}

// split returns the trie position of a subscription path: its fixed
// segments and whether it ends in "/**".
func splitPattern(p string) (fixed string, variable bool) {
	p = strings.TrimPrefix(p, "/")
	if p == "**" {
		return "", true
	}
	if strings.HasSuffix(p, "/**") {
		return p[:len(p)-3], true
	}
	return p, false
}

// node returns the node for the fixed part of a pattern, creating it when
// create is set. For a variable pattern with no fixed part it is the root.
func (x *subIndex) node(fixed string, variable, create bool) *trieNode {
	n := &x.root
	if variable && fixed == "" {
		return n
	}
	for rest, last := fixed, false; !last; {
		var seg string
		seg, rest, last = cutSegment(rest)
		var next *trieNode
		if seg == "*" {
			next = n.star
			if next == nil && create {
				next = &trieNode{}
				n.star = next
			}
		} else {
			next = n.children[seg]
			if next == nil && create {
				if n.children == nil {
					n.children = make(map[string]*trieNode)
				}
				next = &trieNode{}
				n.children[seg] = next
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

func cutSegment(s string) (seg, rest string, last bool) {
	if i := strings.IndexByte(s, '/'); i >= 0 {
		return s[:i], s[i+1:], false
	}
	return s, "", true
}

func (x *subIndex) add(s *subscription) {
	x.mu.Lock()
	defer x.mu.Unlock()
	if s.deliver == nil {
		for _, other := range x.bySession[s.session] {
			if other.channel == s.channel {
				s.dup = true
				x.dupChannels.Add(1)
				break
			}
		}
	}
	x.bySession[s.session] = append(x.bySession[s.session], s)
	if s.path == "*" {
		x.any = append(x.any, s)
		return
	}
	fixed, variable := splitPattern(s.path)
	n := x.node(fixed, variable, true)
	if variable {
		if s.depth <= 0 {
			s.depth = pathmatch.DefaultDepth
		}
		n.deep = append(n.deep, s)
	} else {
		n.subs = append(n.subs, s)
	}
}

// removeLocked unlinks s from the trie (not from bySession).
func (x *subIndex) removeLocked(s *subscription) {
	if s.dup {
		s.dup = false
		x.dupChannels.Add(-1)
	}
	if s.path == "*" {
		x.any = without(x.any, s)
		return
	}
	fixed, variable := splitPattern(s.path)
	n := x.node(fixed, variable, false)
	if n == nil {
		return
	}
	if variable {
		n.deep = without(n.deep, s)
	} else {
		n.subs = without(n.subs, s)
	}
}

func without(list []*subscription, s *subscription) []*subscription {
	for i, v := range list {
		if v == s {
			copy(list[i:], list[i+1:])
			list[len(list)-1] = nil
			return list[:len(list)-1]
		}
	}
	return list
}

// remove drops the subscriptions of sess that keep returns true for, and
// returns them.
func (x *subIndex) remove(sess *Session, drop func(*subscription) bool) []*subscription {
	x.mu.Lock()
	defer x.mu.Unlock()
	var removed []*subscription
	list := x.bySession[sess]
	kept := list[:0]
	for _, s := range list {
		if drop(s) {
			x.removeLocked(s)
			removed = append(removed, s)
		} else {
			kept = append(kept, s)
		}
	}
	for i := len(kept); i < len(list); i++ {
		list[i] = nil
	}
	// a removed first holder of a channel passes it on to a duplicate
	for _, r := range removed {
		if r.dup {
			continue
		}
		for _, k := range kept {
			if k.dup && k.channel == r.channel {
				k.dup = false
				x.dupChannels.Add(-1)
				break
			}
		}
	}
	if len(kept) == 0 {
		delete(x.bySession, sess)
	} else {
		x.bySession[sess] = kept
	}
	return removed
}

// removeSession drops every subscription of sess.
func (x *subIndex) removeSession(sess *Session) {
	x.remove(sess, func(*subscription) bool { return true })
}

// sessionSubscriptions returns a copy of the subscriptions of sess.
func (x *subIndex) sessionSubscriptions(sess *Session) []*subscription {
	x.mu.RLock()
	defer x.mu.RUnlock()
	return append([]*subscription(nil), x.bySession[sess]...)
}

// match appends to dst the subscriptions that a publication of op on path
// reaches, and returns the extended slice.
func (x *subIndex) match(dst []*subscription, op eventAction, path string) []*subscription {
	x.mu.RLock()
	defer x.mu.RUnlock()
	for _, s := range x.any {
		if s.action.accepts(op) {
			dst = append(dst, s)
		}
	}
	return x.root.match(dst, op, strings.TrimPrefix(path, "/"), false)
}

func (n *trieNode) match(dst []*subscription, op eventAction, rest string, done bool) []*subscription {
	if done {
		for _, s := range n.subs {
			if s.action.accepts(op) {
				dst = append(dst, s)
			}
		}
		return dst
	}
	if len(n.deep) > 0 {
		levels := strings.Count(rest, "/") + 1
		for _, s := range n.deep {
			if levels <= s.depth && s.action.accepts(op) {
				dst = append(dst, s)
			}
		}
	}
	seg, next, last := cutSegment(rest)
	if c := n.children[seg]; c != nil {
		dst = c.match(dst, op, next, last)
	}
	if n.star != nil {
		dst = n.star.match(dst, op, next, last)
	}
	return dst
}
