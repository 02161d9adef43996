#!/usr/bin/env bash
# Creates Sada's event topic once, with SADA_KAFKA_PARTITIONS partitions and infinite retention,
# and checks an existing topic instead of changing it.
#
#   create-topic.sh REPLICATION_FACTOR
#
# Reads SADA_KAFKA_BOOTSTRAP, SADA_KAFKA_TOPIC and SADA_KAFKA_PARTITIONS (services/config.py).
# The partition count is never raised here: adding partitions moves keys to other partitions
# and would break the per-demand ordering the whole design rests on.
set -euo pipefail

replication="${1:?usage: create-topic.sh REPLICATION_FACTOR}"
bootstrap="${SADA_KAFKA_BOOTSTRAP:?SADA_KAFKA_BOOTSTRAP is not set}"
topic="${SADA_KAFKA_TOPIC:?SADA_KAFKA_TOPIC is not set}"
partitions="${SADA_KAFKA_PARTITIONS:?SADA_KAFKA_PARTITIONS is not set}"
PATH="/opt/kafka/bin:$PATH"

case "$partitions" in
  ''|*[!0-9]*) echo "SADA_KAFKA_PARTITIONS must be a positive integer, got '$partitions'" >&2; exit 2 ;;
esac

kafka-topics.sh --bootstrap-server "$bootstrap" --create --if-not-exists \
  --topic "$topic" --partitions "$partitions" --replication-factor "$replication" \
  --config retention.ms=-1 --config retention.bytes=-1 --config cleanup.policy=delete

# An existing topic keeps its data forever too, whatever it was created with.
kafka-configs.sh --bootstrap-server "$bootstrap" --alter --entity-type topics \
  --entity-name "$topic" --add-config retention.ms=-1,retention.bytes=-1

have="$(kafka-topics.sh --bootstrap-server "$bootstrap" --describe --topic "$topic" \
  | grep -c 'Partition: ' || true)"
if [ "$have" != "$partitions" ]; then
  echo "topic $topic has $have partitions but SADA_KAFKA_PARTITIONS=$partitions;" \
       "set SADA_KAFKA_PARTITIONS=$have (partitions are never changed in place)" >&2
  exit 1
fi
echo "topic $topic: $have partitions, retention.ms=-1"
