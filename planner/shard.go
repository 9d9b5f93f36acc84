package planner

import (
	"fmt"
	"hash/fnv"
	"strconv"
	"strings"
)

// Shard is one part of a partition of every move's objects into N disjoint
// shards (apply -shard=K/N): a source name belongs to shard
// 1 + FNV-1a(name relative to the move's from) mod N. The partition depends
// on the name only, so it is the same for every plan of a configuration and
// every process; all versions of a name (its history) fall in one shard, and
// so does its destination name (same relative part).
type Shard struct {
	K, N int // 1 ≤ K ≤ N
}

// ParseShard reads "K/N".
func ParseShard(s string) (*Shard, error) {
	ks, ns, ok := strings.Cut(strings.TrimSpace(s), "/")
	k, kerr := strconv.Atoi(ks)
	n, nerr := strconv.Atoi(ns)
	if !ok || kerr != nil || nerr != nil {
		return nil, fmt.Errorf("-shard=%q: want K/N, for example -shard=1/4 (shard 1 of 4)", s)
	}
	if n < 1 || n > 1_000_000 || k < 1 || k > n {
		return nil, fmt.Errorf("-shard=%q: want 1 ≤ K ≤ N ≤ 1000000 (shards are numbered from 1; from a Kubernetes Indexed Job use $((JOB_COMPLETION_INDEX+1))/N)", s)
	}
	return &Shard{K: k, N: n}, nil
}

func (s *Shard) String() string { return fmt.Sprintf("%d/%d", s.K, s.N) }

// Has says whether the name rel (relative to its move's from, or to for a
// destination name) belongs to this shard. A nil Shard has every name.
func (s *Shard) Has(rel string) bool {
	if s == nil || s.N <= 1 {
		return true
	}
	h := fnv.New32a()
	h.Write([]byte(rel))
	return int(h.Sum32()%uint32(s.N))+1 == s.K
}

// HasChunk says whether chunk k (from 0) of a chunked move belongs to
// this shard: chunks are dealt out in turn, 1 + k mod N, so shards are
// disjoint and every name of a chunk (its history, its destination) is in
// the chunk's shard.
func (s *Shard) HasChunk(k int) bool {
	return s == nil || s.N <= 1 || k%s.N+1 == s.K
}

// Names counts the source names of the move's operations that belong to
// shard s (all of them when s is nil).
func (m *Move) Names(s *Shard) int64 {
	var n int64
	if m.Chunked() {
		for k := range m.Chunks {
			if s.HasChunk(k) {
				n += int64(m.Chunks[k].Objects)
			}
		}
		return n
	}
	for i := 0; i < len(m.Ops); {
		name := m.Sources[m.Ops[i].Src].Name
		j := i + 1
		for j < len(m.Ops) && m.Sources[m.Ops[j].Src].Name == name {
			j++
		}
		if s.Has(name[len(m.From):]) {
			n++
		}
		i = j
	}
	return n
}
