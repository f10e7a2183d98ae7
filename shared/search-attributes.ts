/**
 * Typed search attributes that make each organization findable in the Temporal UI and by `list`.
 * Search attributes are never encrypted: they hold the org ID and the phase, nothing personal, nothing secret.
 */
import { defineSearchAttributeKey, SearchAttributeType } from '@temporalio/common';

export const orgIdSearchAttribute = defineSearchAttributeKey('AtlassianOrgId', SearchAttributeType.KEYWORD);
export const phaseSearchAttribute = defineSearchAttributeKey('AtlassianAuditPhase', SearchAttributeType.KEYWORD);

export const projectSearchAttributes = [orgIdSearchAttribute, phaseSearchAttribute] as const;
