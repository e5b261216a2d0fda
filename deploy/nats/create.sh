#!/bin/sh
# Create graphsoar's JetStream streams, consumers and key-value buckets by
# hand, with the nats CLI (https://github.com/nats-io/natscli), for a worker
# that runs with --no-create (nats.create: false). See README.md.
#
#   nats context select <admin context>     # or pass --server/--creds in NATS_OPTS
#   deploy/nats/create.sh
#
# The definitions are what graphsoar itself creates with 8 partitions and
# replicas 3 (go test ./deploy checks them against the code). A stream or
# consumer that exists with the same configuration is left as it is.
set -eu
cd "$(dirname "$0")"
NATS=${NATS:-nats}
NATS_OPTS=${NATS_OPTS:-}
STREAM=INCIDENTS

# The incident stream (with its partitioning subject transform), the
# dead-letter and audit streams, and the key-value buckets, which are streams
# named KV_<bucket>.
for f in streams/*.json; do
	echo "stream $(basename "$f" .json)"
	# shellcheck disable=SC2086
	$NATS $NATS_OPTS stream add --config "$f"
done

# One durable pull consumer per partition, and one for other subjects.
for f in consumers/*.json; do
	echo "consumer $STREAM > $(basename "$f" .json)"
	# shellcheck disable=SC2086
	$NATS $NATS_OPTS consumer add "$STREAM" --config "$f"
done
