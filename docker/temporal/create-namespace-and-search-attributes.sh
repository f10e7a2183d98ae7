#!/bin/sh
# Prepares the namespace the worker uses (run by the one-shot `temporal-setup` service): creates it when missing and
# registers the search attributes the workflows upsert (shared/search-attributes.ts), so the Temporal UI can
# filter organizations by ID and phase. Safe on every `up`: what exists is left as it is.
# The worker also registers missing attributes at start; doing it here first covers a worker whose credentials may
# not administer the namespace.
set -eu

address="${TEMPORAL_ADDRESS:?}"
namespace="${TEMPORAL_NAMESPACE:-default}"

# Runs a command until it succeeds: the server answers a moment after its port opens, and a new namespace reaches
# every server component only after their namespace caches refresh (seconds).
retry() {
  attempts=0
  until "$@" >/dev/null 2>&1; do
    attempts=$((attempts + 1))
    if [ "$attempts" -ge 30 ]; then
      echo "Gave up after $attempts attempts: $*" >&2
      "$@"
      exit 1
    fi
    sleep 2
  done
}

retry temporal operator cluster health --address "$address"

if ! temporal operator namespace describe --address "$address" --namespace "$namespace" >/dev/null 2>&1; then
  temporal operator namespace create --address "$address" --namespace "$namespace" --retention 7d
fi
retry temporal operator search-attribute list --address "$address" --namespace "$namespace"

existing="$(temporal operator search-attribute list --address "$address" --namespace "$namespace")"
for attribute in AtlassianOrgId AtlassianAuditPhase; do
  if printf '%s\n' "$existing" | grep -qw "$attribute"; then
    echo "Search attribute $attribute already registered"
  else
    temporal operator search-attribute create --address "$address" --namespace "$namespace" \
      --name "$attribute" --type Keyword
  fi
done
