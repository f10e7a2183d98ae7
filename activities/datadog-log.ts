/**
 * One log as sent to the Datadog Logs intake v2 (a JSON object in the request array).
 * Reserved attributes sit at the root; everything Atlassian-specific lives under `atlassian`.
 */
export interface DatadogLog {
  ddsource: 'atlassian-event-logs';
  service: string;
  ddtags: string;
  hostname?: string;
  status: 'info' | 'warn' | 'error';
  /** Official log time, epoch milliseconds. The ship activity may re-date logs outside Datadog's window. */
  timestamp: number;
  message: string;
  usr?: { id?: string; name?: string; email?: string };
  network?: { client?: { ip?: string; geoip?: Record<string, unknown> } };
  evt?: { name?: string; category?: string; outcome?: string };
  atlassian: {
    /** The Atlassian event ID: the key to recognise a repeat downstream. */
    event_id: string;
    org_id: string;
    /** The event's own time (ISO-8601) as Atlassian sent it; kept even when the log is re-dated. */
    time?: string;
    processed_at?: string;
    [key: string]: unknown;
  };
  [key: string]: unknown;
}
