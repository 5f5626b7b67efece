package auditverify

import (
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/tenantshield/tenantshield-go/auditlog"
)

// summary renders a report's findings as "kind seq" (or "kind range"),
// failures in capitals, and its parse errors as "parse file:line".
func summary(r *Report) []string {
	out := []string{}
	for _, e := range r.ParseErrors {
		out = append(out, fmt.Sprintf("parse %s:%d", e.File, e.Line))
	}
	for _, s := range r.Streams {
		for _, f := range s.Findings {
			k := f.Kind
			if f.Failure {
				k = strings.ToUpper(k)
			}
			switch {
			case f.Range != "":
				k += " " + f.Range
			case f.Seq != 0:
				k += fmt.Sprintf(" %d", f.Seq)
			}
			out = append(out, k)
		}
	}
	return out
}

// sigLines is the signed, SHA-256 fixture: records 1-5, CHECKPOINT 6
// (vouching for 5), 7-11, CHECKPOINT 12, 13-14, final CHECKPOINT 15.
var sigFixture = fixture{sign: true, every: 5, events: 12}

func without(lines []string, idx ...int) []string {
	var out []string
	for i, l := range lines {
		if !slices.Contains(idx, i) {
			out = append(out, l)
		}
	}
	return out
}

func TestTamperJSONLines(t *testing.T) {
	t.Parallel()
	lines, _ := sigFixture.jsonLines(t)
	if len(lines) != 15 {
		t.Fatalf("%d lines, want 15", len(lines))
	}
	at := func(seq int) int { return indexOf(t, lines, seq) }
	edit := func(ls []string, seq int, fn func(map[string]any)) []string {
		out := append([]string(nil), ls...)
		i := indexOf(t, out, seq)
		m := lineMap(t, out[i])
		fn(m)
		out[i] = mapLine(t, m)
		return out
	}
	setTenant := func(m map[string]any) { m["tenant_id"] = "globex" }
	forged := func(m map[string]any) {
		a := m["attributes"].(map[string]any)
		seq, _ := a[string(auditlog.AttrCheckpointSeq)].(json.Number).Int64()
		sig := ed25519.Sign(otherKey, auditlog.CheckpointMessage(m["stream_id"].(string), uint64(seq), a[string(auditlog.AttrCheckpointHash)].(string), false))
		a[string(auditlog.AttrCheckpointSignature)] = base64.StdEncoding.EncodeToString(sig)
	}
	for _, tc := range []struct {
		name  string
		files [][]string
		opts  Options
		want  []string
		check func(t *testing.T, s StreamReport)
	}{
		{name: "untouched", files: [][]string{lines}, opts: withPubKey, want: []string{},
			check: func(t *testing.T, s StreamReport) {
				if s.Records != 15 || s.Checkpoints != 3 || s.VerifiedSignatures != 3 || s.SignedThrough != 14 || !s.FinalCheckpoint {
					t.Errorf("%+v", s)
				}
			}},
		{name: "line deleted", files: [][]string{without(lines, at(8))}, opts: withPubKey, want: []string{"GAP 8"}},
		{name: "lines deleted", files: [][]string{without(lines, at(3), at(4), at(5), at(9))}, opts: withPubKey,
			want: []string{"GAP 3-5", "GAP 9"}},
		{name: "head deleted", files: [][]string{without(lines, at(1), at(2))}, opts: withPubKey, want: []string{"GAP 1-2"}},
		{name: "tail deleted with the final checkpoint", files: [][]string{without(lines, at(13), at(14), at(15))}, opts: withPubKey,
			want: []string{"MISSING_FINAL_CHECKPOINT 12"},
			check: func(t *testing.T, s StreamReport) {
				if s.Checkpoints != 2 || s.VerifiedSignatures != 2 || s.SignedThrough != 11 {
					t.Errorf("the checkpoints before the lost tail: %+v", s)
				}
			}},
		{name: "tail deleted, stream allowed open", files: [][]string{without(lines, at(14), at(15))},
			opts: Options{AllowOpen: true}, want: []string{"missing_final_checkpoint 13"}},
		{name: "line duplicated", files: [][]string{append(slices.Clone(lines), lines[at(4)])}, opts: withPubKey, want: []string{},
			check: func(t *testing.T, s StreamReport) {
				if s.Duplicates != 1 || s.Records != 15 || s.OutOfOrder != 0 {
					t.Errorf("%+v", s)
				}
			}},
		{name: "line duplicated with a change", files: [][]string{append(slices.Clone(lines), edit(lines, 4, setTenant)[at(4)])},
			opts: withPubKey, want: []string{"CONFLICT 4"},
			check: func(t *testing.T, s StreamReport) {
				if w := s.Findings[0].Where; !reflect.DeepEqual(w, []string{fmt.Sprintf("f1:%d", at(4)+1), "f1:16"}) {
					t.Errorf("conflict where %q", w)
				}
			}},
		{name: "lines swapped", files: [][]string{func() []string {
			ls := slices.Clone(lines)
			ls[at(3)], ls[at(7)] = ls[at(7)], ls[at(3)]
			return ls
		}()}, opts: withPubKey, want: []string{},
			check: func(t *testing.T, s StreamReport) {
				if s.OutOfOrder != 4 { // 3, 4, 5, 6 arrive after 7
					t.Errorf("out of order %d, want 4", s.OutOfOrder)
				}
			}},
		{name: "field edited", files: [][]string{edit(lines, 3, setTenant)}, opts: withPubKey, want: []string{"RECORD_EDITED 3"}},
		{name: "attribute edited", files: [][]string{edit(lines, 4, func(m map[string]any) {
			m["attributes"].(map[string]any)["n"] = json.Number("5")
		})}, opts: withPubKey, want: []string{"RECORD_EDITED 4"}},
		{name: "field edited, its hash recomputed", files: [][]string{edit(lines, 3, func(m map[string]any) { setTenant(m); rehash(t, m, nil) })},
			opts: withPubKey, want: []string{"CHAIN_RELINKED 4"}},
		{name: "chain rewritten from the change, signatures not checked", files: [][]string{rewriteFrom(t, lines, 3, nil, setTenant)},
			want: []string{}},
		{name: "chain rewritten from the change, signed checkpoints catch it", files: [][]string{rewriteFrom(t, lines, 3, nil, setTenant)},
			opts: withPubKey, want: []string{"BAD_SIGNATURE 6", "BAD_SIGNATURE 12", "BAD_SIGNATURE 15"}},
		{name: "chain rewritten after the last checkpoint", files: [][]string{rewriteFrom(t, lines, 13, nil, setTenant)},
			opts: withPubKey, want: []string{"BAD_SIGNATURE 15"}},
		{name: "checkpoint signature forged", files: [][]string{edit(lines, 12, func(m map[string]any) { forged(m); rehash(t, m, nil) })},
			opts: withPubKey, want: []string{"BAD_SIGNATURE 12", "CHAIN_RELINKED 13"}},
		{name: "checkpoint vouches for another hash", files: [][]string{edit(lines, 6, func(m map[string]any) {
			m["attributes"].(map[string]any)[string(auditlog.AttrCheckpointHash)] = strings.Repeat("0", 64)
		})}, opts: withPubKey, want: []string{"RECORD_EDITED 6", "CHECKPOINT_MISMATCH 6", "BAD_SIGNATURE 6"}},
		{name: "signatures required, no public key", files: [][]string{lines}, opts: Options{RequireSignatures: true},
			want: []string{"UNVERIFIED_SIGNATURE 6", "UNVERIFIED_SIGNATURE 12", "UNVERIFIED_SIGNATURE 15", "NO_SIGNED_CHECKPOINT"}},
		{name: "signatures required and verified", files: [][]string{lines},
			opts: Options{RequireSignatures: true, PublicKeys: withPubKey.PublicKeys}, want: []string{}},
		{name: "truncated last line", files: [][]string{append(slices.Clone(lines[:14]), lines[14][:len(lines[14])/2])},
			opts: withPubKey, want: []string{"parse f1:15", "MISSING_FINAL_CHECKPOINT 14"}},
		{name: "split over two files", files: [][]string{lines[:7], lines[7:]}, opts: withPubKey, want: []string{}},
		{name: "split over two files with an overlap", files: [][]string{lines[:9], lines[5:]}, opts: withPubKey, want: []string{},
			check: func(t *testing.T, s StreamReport) {
				if s.Duplicates != 4 {
					t.Errorf("duplicates %d, want 4", s.Duplicates)
				}
			}},
		{name: "split over two files, one lost", files: [][]string{lines[:7]}, opts: withPubKey,
			want: []string{"MISSING_FINAL_CHECKPOINT 7"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			r := verifyLines(t, tc.opts, tc.files...)
			if got := summary(r); !reflect.DeepEqual(got, tc.want) {
				var b strings.Builder
				_ = r.WriteText(&b)
				t.Fatalf("findings %q, want %q\n%s", got, tc.want, b.String())
			}
			failing := slices.ContainsFunc(tc.want, func(s string) bool { return s != strings.ToLower(s) || strings.HasPrefix(s, "parse") })
			if r.Intact == failing || len(r.Streams) != 1 {
				t.Fatalf("intact %v with findings %q, %d streams", r.Intact, tc.want, len(r.Streams))
			}
			if tc.check != nil {
				tc.check(t, r.Streams[0])
			}
		})
	}
}
