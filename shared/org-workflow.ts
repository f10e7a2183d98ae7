/** Names shared by the worker, the client and the workflow: one workflow per organization, on one task queue. */
export const DEFAULT_TASK_QUEUE = 'atlassian-audit';

export const WORKFLOW_ID_PREFIX = 'atlassian-audit-';

export function workflowIdForOrg(orgId: string): string {
  return `${WORKFLOW_ID_PREFIX}${orgId}`;
}
