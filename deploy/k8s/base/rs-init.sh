#!/usr/bin/env bash
# Runs beside mongod in every mongo pod and acts only on ordinal 0. First start: initiate the
# replica set (member 0 preferred as primary) and create the root user through the localhost
# exception. Every start: make sure the sada user exists. Then idle. Safe to run again.
set -uo pipefail

ordinal="${HOSTNAME##*-}"
if [ "$ordinal" != "0" ]; then
  exec sleep infinity
fi
export MONGO_PREFIX="${HOSTNAME%-*}"
export MONGO_REPLICAS MONGO_REPLSET MONGO_SERVICE MONGO_ROOT_USERNAME MONGO_ROOT_PASSWORD \
  MONGO_SADA_USERNAME MONGO_SADA_PASSWORD

hosts=""
for ((i = 0; i < MONGO_REPLICAS; i++)); do
  hosts="${hosts:+$hosts,}${MONGO_PREFIX}-$i.${MONGO_SERVICE}:27017"
done
replset_url="mongodb://${hosts}/?replicaSet=${MONGO_REPLSET}&authSource=admin"
as_root=(-u "$MONGO_ROOT_USERNAME" -p "$MONGO_ROOT_PASSWORD" --authenticationDatabase admin)

first_start_js='
const env = process.env;
const members = [...Array(Number(env.MONGO_REPLICAS)).keys()].map(i => ({
  _id: i, host: `${env.MONGO_PREFIX}-${i}.${env.MONGO_SERVICE}:27017`, priority: i === 0 ? 2 : 1}));
try { rs.status(); } catch (e) {
  if (e.codeName !== "NotYetInitialized") { throw e; }
  rs.initiate({_id: env.MONGO_REPLSET, members: members});
}
while (!db.hello().isWritablePrimary) { sleep(1000); }
db.getSiblingDB("admin").createUser(
  {user: env.MONGO_ROOT_USERNAME, pwd: env.MONGO_ROOT_PASSWORD, roles: ["root"]});
'
# readWriteAnyDatabase: `sada replay` may build the read models in a new database.
sada_user_js='
const env = process.env;
const admin = db.getSiblingDB("admin");
if (admin.getUser(env.MONGO_SADA_USERNAME) === null) {
  admin.createUser({user: env.MONGO_SADA_USERNAME, pwd: env.MONGO_SADA_PASSWORD,
                    roles: ["readWriteAnyDatabase"]});
}
'

until mongosh --quiet --eval "db.adminCommand('ping').ok" >/dev/null 2>&1; do sleep 2; done
until mongosh --quiet "${as_root[@]}" --eval "quit(0)" >/dev/null 2>&1 \
      || mongosh --quiet --eval "$first_start_js"; do
  echo "replica set ${MONGO_REPLSET}: not initiated yet; retrying in 5s" >&2
  sleep 5
done
until mongosh --quiet "$replset_url" "${as_root[@]}" --eval "$sada_user_js"; do
  echo "replica set ${MONGO_REPLSET}: no primary yet; retrying in 5s" >&2
  sleep 5
done
echo "replica set ${MONGO_REPLSET} ready"
exec sleep infinity
