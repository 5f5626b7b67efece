// Package auditspool is a durable local spool for audit records: an
// append-only log of opaque byte payloads in a directory of its own, read
// back in order by a shipper that acknowledges what was delivered.
//
// It is the storage under a "durable" audit delivery mode: every audit
// record is appended (and fsynced) before the audited operation continues,
// a shipper reads the spool in order with [Spool.Next], exports to the
// OpenTelemetry Collector and calls [Spool.Ack] with the last sequence
// number the Collector accepted; after a crash or a restart, [Open] replays
// the directory and Next returns every unacknowledged entry again. Delivery
// is at least once: the consumer dedupes by sequence number.
//
//	sp, err := auditspool.Open("/var/lib/billing/auditspool", auditspool.WithHMAC("k1", key))
//	seq, err := sp.Append(ctx, record)      // durable when it returns
//	for {                                   // the shipper
//		es, err := sp.Next(ctx, 512)
//		if len(es) == 0 { <-sp.Ready(); continue }
//		if export(es) == nil { sp.Ack(es[len(es)-1].Seq) } else { sp.Rewind() }
//	}
//
// # The directory
//
// The directory is required: there is no default and no fallback to a
// temporary directory (a shared temporary directory lets other users read,
// replace or inject records). If it does not exist, Open creates it with
// mode 0700; only its last element is created, its parent must exist. Open
// refuses ([ErrUnsafeDir], a [DirError] saying how to fix it) a directory
// that is a symbolic link, is not a directory, is group- or world-writable,
// or (on Linux) is owned by another user than the process's effective uid.
// Only the last element is checked: the parents are the operator's. Files
// are created with mode 0600 and reached through an [os.Root], so a
// symbolic link inside the directory never leads out of it. A lock file
// (flock, Linux) keeps a second Spool from opening the same directory
// ([ErrLocked]).
//
// Files: "lock"; "ack" (the acknowledged position) and "ack.tmp" while it
// is being replaced; segments named by the sequence number of their first
// entry in 20 decimal digits (the width of the largest uint64), e.g.
// "00000000000000000001.seg". Any other file is reported
// ([KindUnknownFile]) and left alone; the spool never deletes a file it did
// not create.
//
// # On-disk format
//
// A segment is a sequence of entries and nothing else (no file header).
// Every integer is big-endian. An entry is:
//
//	offset  size  field
//	0       1     magic 0xA5
//	1       1     format version, 1
//	2       1     flags: bit 0 set if the entry has an HMAC; other bits 0
//	3       1     k, the length of the key ID (0 without HMAC, 1-255 with)
//	4       8     seq, the entry's sequence number (uint64, >= 1)
//	12      4     n, the payload length (uint32, at most 2^30)
//	16      4     CRC-32C (Castagnoli) of bytes 0-15, then of every byte
//	              after offset 20 to the end of the entry (key ID,
//	              payload, tag)
//	20      k     key ID (ASCII or any bytes, as given to WithHMAC)
//	20+k    n     payload
//	20+k+n  32    HMAC-SHA256 under the key of bytes 0-15, key ID and
//	              payload (only if flag bit 0)
//
// The entry is 20+n bytes without HMAC, 52+k+n with. Within the spool,
// seqs are assigned by Append, start at 1, and increase by one from entry
// to entry and from segment to segment; every entry of a segment has a
// seq at least the segment's name and below the next segment's name. A
// segment never exceeds the segment size (WithSegmentSize), so that is
// also the largest entry.
//
// The "ack" file is the 4 bytes "TSAK" followed by one entry in the same
// format whose seq is the acknowledged position (every seq up to it is
// acknowledged) and whose payload is "auditspool ack". With WithHMAC, its
// tag uses the key HMAC-SHA256(key, "auditspool ack file") instead of the
// key itself, so that no segment entry can be copied into an ack file. It
// is replaced by writing ack.tmp, fsyncing it, renaming it to ack and
// fsyncing the directory.
//
// # Writing
//
// [Spool.Append] returns once its entry is written and fsynced. Concurrent
// Appends are batched (group commit): the first caller becomes the leader,
// writes the entries queued so far in one write and one fsync, and hands
// the lead to the first caller queued meanwhile; a batch never spans two
// segments. A new segment is started when the batch would make the active
// one exceed the segment size; its name is made durable (directory fsync)
// before entries are written to it. If a write or an fsync fails (a full
// disk), every Append of the batch gets a [WriteError], the segment is
// truncated back to its last durable entry and the seqs are assigned again
// to the next batch; if the truncation fails too, the next batch starts a
// new segment named by the same seq, and replay then rejects the left-over
// entries of the old one (their seqs are not below the next segment's
// name).
//
// The segment files together hold at most WithMaxBytes bytes (default 1
// GiB). When an Append would exceed it, [FullBlock] (the default) waits for
// Ack to delete segments or for the context; [FullDrop] refuses at once.
// Both return a [FullError] and count the entry in Stats.Dropped.
//
// # Reading and acknowledging
//
// [Spool.Next] returns the oldest durable entries not yet returned and not
// acknowledged, never blocking; [Spool.Ready] signals new entries.
// [Spool.Ack] persists the position, then deletes every segment (except the
// one being written) whose entries are all acknowledged. [Spool.Rewind]
// returns to the oldest unacknowledged entry.
//
// # Replay
//
// Open reads the ack file and every segment in order and checks every
// entry. It never fails on file content, and never panics:
//
//   - the last segment may end in a torn tail, the part of a batch that a
//     crash interrupted: an entry cut short, or zero bytes, with no valid
//     entry after it. It is truncated and counted (Stats.TruncatedBytes).
//     No entry in it was ever reported durable. The whole entries that
//     precede it in the interrupted batch are kept: their Appends never
//     returned, and delivering them is on the safe side of at least once.
//   - bytes that are not a valid entry (bad magic, version, flags, CRC or
//     HMAC, a length running past the end of a segment that is not the
//     last) are skipped, counted (Stats.Corrupt) and reported to the
//     WithOnCorrupt function ([CorruptError], [KindBadEntry]) with the file,
//     offset and length. Replay resumes after the entry if its length leads
//     to a valid entry, else at the next offset where a valid entry starts.
//   - a valid entry whose seq is not after the previous entry's, or is
//     outside its segment's range, is skipped, counted and reported
//     ([KindOutOfOrder]).
//   - missing seqs (a deleted or damaged segment, a lost ack file) are
//     reported ([KindGap]) and counted (Stats.Missing); the entries after
//     the gap are kept.
//   - an unreadable ack file is reported ([KindAckFile]); every entry on
//     disk is then unacknowledged and will be delivered again.
//
// The next Append gets the seq after the highest one found (or after the
// acknowledged position, if higher). Next checks every entry again as it
// reads it; bytes changed after Open are reported and skipped the same way. Without WithHMAC, anyone who can write
// the directory can add entries that pass the CRC; with it, only holders of
// the key can. Nobody but the owner can write a directory Open accepts.
// Someone who can write it can still delete entries (reported as gaps) or
// make Open slow with crafted bytes (replay resynchronizes byte by byte
// past corrupt regions).
//
// # API
//
// [Open] and its options ([WithSegmentSize], [WithMaxBytes],
// [WithFullPolicy] with [FullBlock] and [FullDrop], [WithHMAC],
// [WithOnCorrupt]); [Spool] with [Spool.Append], [Spool.Next], [Spool.Ack],
// [Spool.Rewind], [Spool.Ready], [Spool.Stats] ([Stats]) and
// [Spool.Close]; [Entry]. Errors: [ErrClosed], [ErrFull] ([FullError]),
// [ErrUnsafeDir] ([DirError]), [ErrLocked], [ErrTooLarge], [ErrWrite]
// ([WriteError]), [ErrAckBeyond], [ErrInvalidOption]; [CorruptError] and
// [CorruptKind] for what replay reports.
package auditspool
