// Package protocol is the rgap wire codec: it encodes, signs, parses and
// verifies the announcement datagram that says "address A is alive in
// redundancy group G". Version 1 (66 bytes) is byte-compatible with the
// original rgap agent; testdata/announcements.json holds packets captured
// from it. Version 2 (72 bytes) adds what v1 cannot say: that the sender is
// leaving, which of the group's keys signed it, and the port and weight it
// serves with; testdata/v2_vectors.json publishes its test vectors. One
// socket takes both: the length and the version field tell them apart.
//
// # Wire layout, version 1
//
// All integers are big-endian.
//
//	0      2                10               18                   34                       66
//	+------+----------------+----------------+--------------------+------------------------+
//	| ver  | group          | timestamp      | address            | HMAC-SHA256            |
//	| u16  | u64            | i64, Unix µs   | 16 bytes, IPv4 as  |   key = 32-byte PSK    |
//	|0x0100|                |                | ::ffff:a.b.c.d     |   msg = "RGAP announce"|
//	|      |                |                |                    |         || bytes 0..34 |
//	+------+----------------+----------------+--------------------+------------------------+
//	\_____________________ signed header, 34 bytes ______________/ \_______ 32 bytes ______/
//
// The MAC input is the ASCII string "RGAP announce" (13 bytes, no
// terminator) followed by the 34 header bytes. The string separates rgap
// MACs from anything else the same PSK might ever sign.
//
// # Wire layout, version 2
//
//	0      2     3     4        12             20           36     38     40             72
//	+------+-----+-----+--------+--------------+------------+------+------+--------------+
//	| ver  |flags| key | group  | timestamp    | address    | port |weight| HMAC-SHA256  |
//	| u16  | u8  | id  | u64    | i64, Unix µs | 16 bytes,  | u16  | u16  |  msg =       |
//	|0x0200|     | u8  |        |              | as in v1   |      |      |  "RGAP       |
//	|      |     |     |        |              |            |      |      |  announce/2" |
//	|      |     |     |        |              |            |      |      |  || 0..40    |
//	+------+-----+-----+--------+--------------+------------+------+------+--------------+
//	\___________________________ signed header, 40 bytes ____________/ \__ 32 bytes __/
//
// Flags: bit 0 (FlagLeave) says the sender leaves the group; the other bits
// are reserved, and a datagram with one set is refused as an unsupported
// version. The key id selects one of the group's keys (so keys can be
// rotated without an outage); port 0 means "no port", weight 0 "the
// receiver's default". The domain string "RGAP announce/2" (15 bytes) differs
// from v1's, and the two MAC inputs differ in length (47 and 55 bytes), so a
// v1 MAC is never a valid v2 MAC nor the other way round; 15 bytes keep the
// inner hash within one SHA-256 block, so v2 costs what v1 costs.
//
// # Check order
//
// A receiver checks a datagram in this order, cheapest and least trusting
// first, and counts a drop by the first check that fails:
//
//  1. Length ([Parse], [ErrLength]): anything that is not exactly 66 or 72
//     bytes is not an rgap announcement. This also guarantees that every
//     later slice index is in range.
//  2. Version ([Parse], [ErrVersion]): the version field must be the one of
//     that length (0x0100 for 66 bytes, 0x0200 for 72), with no reserved v2
//     flag set. It is checked before the MAC so that a
//     sender speaking a newer protocol is reported as "unsupported version"
//     rather than as a forged packet or a wrong PSK, which would send an
//     operator looking in the wrong place. The MAC's meaning depends on the
//     layout, so it cannot be judged for an unknown version anyway.
//  3. Group: the caller looks the (still unauthenticated) group id up in its
//     configuration. PSKs are per group, so this is how the key is chosen;
//     an unknown group is dropped without spending an HMAC on it. A forged
//     group id gains nothing: it only selects a key, and the MAC then fails.
//  4. MAC ([Key.Verify], [ErrMAC]): HMAC-SHA256 recomputed over the header
//     and compared in constant time. Only now may any field be trusted.
//  5. Clock skew: the caller compares [Announcement.Time] with its own clock
//     and the group's clock_skew. This package has no clock and no policy;
//     judging a timestamp is only meaningful once the MAC proves it genuine.
//
// # Allocation and concurrency
//
// Parse and Verify allocate nothing, on success or on any error: the errors
// they return are the bare sentinels, so a flood of junk datagrams costs no
// garbage. [Describe] produces the human-readable detail (actual length,
// actual version, header fields) for the rarer debug-logging path.
//
// A [Key] holds the HMAC-SHA256 inner and outer hash states after the PSK's
// ipad/opad blocks (and the "RGAP announce" prefix) have been absorbed,
// computed once by [NewKey]; signing or verifying then only hashes the 34
// header bytes and the inner digest. A Key is immutable after NewKey, so a
// single Key is safe for concurrent use by any number of goroutines: each
// call restores the precomputed state into a hash on its own stack.
//
// # Secrets
//
// [PSK] formats as "[redacted]" under every fmt verb and text encoder, so a
// key does not reach a log by accident; [PSK.Hex] is the one deliberate way
// to print it. A Key is redacted the same way. One limit remains: fmt cannot
// call methods on unexported struct fields, so a PSK stored in an unexported
// field of a struct printed with %v shows its bytes. Do not print such
// structs.
package protocol
