// The worker bundles this file: only workflows (and what they import) belong here.
export { orgAuditWorkflow } from './org-audit-workflow';
export { verifyRangeWorkflow } from './verify-range-workflow';
