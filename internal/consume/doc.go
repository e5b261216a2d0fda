// Package consume is graphsoar's JetStream consumption: it owns partitions,
// fetches their events, runs a Handler on each and settles it. It knows
// JetStream and nothing of rules or Graph; the worker is its Handler.
//
// Guarantees:
//
//   - One owner per partition. Each partition of the incident stream has a
//     durable pull consumer; a replica consumes it only while it holds the
//     partition's lease, a key in the coordination bucket that it renews by
//     compare-and-set and that expires with the bucket's TTL. Renewal runs in
//     its own goroutine and never waits on handling. A replica whose lease is
//     lost (taken over) or no longer certainly valid (renewals failing for
//     TTL - safety) stops fetching and cancels the partition's handling at
//     once: the next owner can claim the lease only after the TTL, so a
//     fenced replica has stopped at least the safety margin before another
//     starts.
//   - Per-key order. Deliveries carry a key (tenant/incident); a key's
//     deliveries run one at a time, in stream order. A delivery left for
//     redelivery (a retry) holds its key's later deliveries until it comes
//     back or is known settled; a partition taken over holds, for each key,
//     the deliveries after those still unsettled by the previous owner, and
//     only those keys. Different keys run concurrently up to Concurrency,
//     and one tenant holds at most its share of the slots.
//   - Nothing lost. Settlement is exactly one of Ack, Nak (release: handover
//     or shutdown, spending no retry budget), NakWithDelay (retry) or Term,
//     and Term only after the dead letter is stored. The consumer redelivers
//     without limit; exhaustion (a retry budget in time, and a bound on
//     deliveries for crash loops) is decided in one middleware.
//   - Healing. A deleted consumer, a lost stream or a NATS restart is
//     detected by the fetch loop (missing heartbeats, consumer-deleted
//     status) and recovered within seconds; Ready is false while any owned
//     partition is not being consumed.
package consume
