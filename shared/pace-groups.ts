/**
 * Orgs read with one Atlassian user's key share that user's rate limit. An org started in a pace group sends its
 * polls through the group's own task queue, whose dispatch rate the Temporal server caps for every worker at once
 * (`maxTaskQueueActivitiesPerSecond`, set from AUDIT_PACE_GROUPS); each of those polls sends one request.
 */
export const PACE_GROUP_NAME = /^[a-z0-9][a-z0-9_-]{0,62}$/;

export function paceGroupTaskQueue(taskQueue: string, group: string): string {
  return `${taskQueue}/pace/${group}`;
}
