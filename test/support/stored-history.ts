/** Tests read stored history with the harness's reader (dev/harness/stored-history.ts), which the benchmarks share. */
export {
  encodingOf,
  failuresIn,
  historiesOfEveryRun,
  payloadsIn,
  storedBytesOf,
  storedHistoryBytes,
  type RunHistory,
  type StoredPayload,
} from '../../dev/harness/stored-history';
