/** Stops an org's workflow the way an operator does and reads back what Temporal stored for every one of its runs. */
import type { Client } from '@temporalio/client';
import type { temporal } from '@temporalio/proto';
import { workflowIdForOrg } from '../../shared/org-workflow';
import { stopSignal } from '../../workflows/messages';
import type { OrgAuditResult, orgAuditWorkflow } from '../../workflows/org-audit-workflow';
import { historiesOfEveryRun } from '../harness/stored-history';

export interface StoppedOrg {
  result: OrgAuditResult;
  /** Oldest run first; continue-as-new makes one run per stretch of history. */
  histories: temporal.api.history.v1.IHistory[];
}

export async function stopOrgAndReadHistories(client: Client, orgId: string): Promise<StoppedOrg> {
  const handle = client.workflow.getHandle<typeof orgAuditWorkflow>(workflowIdForOrg(orgId));
  await handle.signal(stopSignal, { reason: 'benchmark finished' });
  const result = await handle.result();
  const runs = await historiesOfEveryRun(client, workflowIdForOrg(orgId), 60_000);
  return { result, histories: runs.map((run) => run.history) };
}
