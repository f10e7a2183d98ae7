/**
 * The golden examples of the map step: hand-written inputs in test/fixtures/map/inputs/ plus a few generated ones
 * too large to keep as files, each with the context it is mapped in. Expected logs live in
 * test/fixtures/map/expected/<name>.json. Shared by the mapping test and the Datadog definitions test (which checks
 * that rules and dashboards only use attributes these examples produce).
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { actionCatalogueFrom } from '../../activities/action-catalogue';
import {
  type AtlassianEntity,
  type AtlassianEvent,
  atlassianEventSchema,
  eventActionsSchema,
} from '../../activities/atlassian-schema';
import type { MapContext } from '../../activities/map-event';
import type { PolledEvent } from '../../activities/polled-event';

export const MAP_FIXTURES_DIR = path.join(__dirname, '..', 'fixtures', 'map');
const INPUTS_DIR = path.join(MAP_FIXTURES_DIR, 'inputs');
export const EXPECTED_DIR = path.join(MAP_FIXTURES_DIR, 'expected');

export interface GoldenCase {
  readonly name: string;
  readonly description: string;
  readonly polled: PolledEvent;
  readonly context: MapContext;
}

const catalogue = actionCatalogueFrom(
  eventActionsSchema.parse(JSON.parse(readFileSync(path.join(MAP_FIXTURES_DIR, 'event-actions.json'), 'utf8')))
);

export const GOLDEN_CONTEXT: MapContext = {
  orgId: 'b5f3c2d1-0a9e-4f7b-8c6d-5e4f3a2b1c0d',
  origin: 'tail',
  now: Date.parse('2025-11-21T12:00:00.000Z'),
  actions: catalogue,
};

const inputFileSchema = z.strictObject({
  description: z.string(),
  origin: z.enum(['tail', 'backfill']).optional(),
  polled: z.discriminatedUnion('kind', [
    // Parsed with the real schema, so a fixture the poll activity would reject cannot pose as a valid event.
    z.strictObject({ kind: z.literal('event'), id: z.string(), event: atlassianEventSchema }),
    z.strictObject({ kind: z.literal('malformed'), id: z.string(), raw: z.unknown(), problem: z.string() }),
  ]),
});

function fileCases(): GoldenCase[] {
  return readdirSync(INPUTS_DIR)
    .filter((file) => file.endsWith('.json'))
    .sort()
    .map((file) => {
      const input = inputFileSchema.parse(JSON.parse(readFileSync(path.join(INPUTS_DIR, file), 'utf8')));
      return {
        name: path.basename(file, '.json'),
        description: input.description,
        polled: input.polled,
        context: { ...GOLDEN_CONTEXT, ...(input.origin && { origin: input.origin }) },
      };
    });
}

const site: AtlassianEntity = {
  id: 'd2c4e6f8-0000-4000-8000-123456789abc',
  type: 'sites',
  attributes: { siteHostName: 'https://example.atlassian.net', siteName: 'example' },
};

function member(index: number): AtlassianEntity {
  const number = String(index).padStart(5, '0');
  return {
    id: `5f00000000000000000${number}`,
    type: 'users',
    attributes: { name: `Member ${number}`, email: `member${number}@example.com`, accountType: 'atlassian' },
    links: { alt: `https://admin.atlassian.com/o/org/users/5f00000000000000000${number}` },
  };
}

/** A deleted group listed with its members, as many as it takes for `context` to reach `minBytes` of JSON. */
function groupDeletedWithMembers(id: string, minBytes: number): AtlassianEvent {
  const context: AtlassianEntity[] = [
    { id: '7e7e7e7e-1111-4222-8333-444455556666', type: 'groups', attributes: { name: 'all-staff' } },
  ];
  let bytes = JSON.stringify(context).length;
  for (let index = 1; bytes < minBytes; index += 1) {
    const next = member(index);
    context.push(next);
    bytes += JSON.stringify(next).length + 1;
  }
  return {
    id,
    type: 'events',
    attributes: {
      time: '2025-11-21T07:00:00.000Z',
      processedAt: '2025-11-21T07:00:04.000Z',
      action: 'group_deleted',
      actor: { id: '5b10ac8d82e05b22cc7d4ef5', name: 'Ada Lovelace', email: 'ada@example.com' },
      context,
      container: [site],
      location: { ip: '203.0.113.24', countryName: 'Ireland', regionName: 'Leinster', city: 'Dublin' },
    },
    message: { content: 'Deleted group all-staff', format: 'simple' },
  };
}

/** A policy change whose one context item carries 300 distinct settings: more attributes than Datadog allows. */
function policyWithManySettings(id: string): AtlassianEvent {
  const settings = Object.fromEntries(
    Array.from({ length: 300 }, (_, index) => [`setting_${String(index).padStart(3, '0')}`, index % 2 === 0])
  );
  return {
    id,
    type: 'events',
    attributes: {
      time: '2025-11-21T07:30:00.000Z',
      processedAt: '2025-11-21T07:30:00.500Z',
      action: 'org_policy_updated',
      actor: { id: '5b10ac8d82e05b22cc7d4ef5', name: 'Ada Lovelace', email: 'ada@example.com' },
      context: [{ id: 'policy-9', type: 'policies', attributes: { name: 'Default policy', ...settings } }],
    },
  };
}

function generatedCase(name: string, description: string, event: AtlassianEvent): GoldenCase {
  return { name, description, polled: { kind: 'event', id: event.id, event }, context: GOLDEN_CONTEXT };
}

export function goldenCases(): GoldenCase[] {
  return [
    ...fileCases(),
    generatedCase(
      'large-context',
      'A deleted group listed with its members: a 20 KB context, kept whole.',
      groupDeletedWithMembers('7a7a7a7a-0000-4000-8000-000000020000', 20_000)
    ),
    generatedCase(
      'oversized',
      'Over 1 MB: the context is cut, everything else kept, the cut recorded.',
      groupDeletedWithMembers('7b7b7b7b-0000-4000-8000-000001100000', 1_100_000)
    ),
    generatedCase(
      'many-attributes',
      'More than 255 attributes: the original event travels as JSON text.',
      policyWithManySettings('7c7c7c7c-0000-4000-8000-000000000300')
    ),
  ];
}
