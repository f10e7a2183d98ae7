/**
 * Prints what payload encryption costs on the wire for one realistic `events-stream` page of 200 Atlassian audit
 * events: the serialized Temporal Payload plain, encrypted, and compressed then encrypted.
 *
 *   npx tsx dev/measure/measure-codec.ts
 */
import { randomBytes, randomUUID } from 'node:crypto';
import { defaultPayloadConverter } from '@temporalio/common';
import { temporal } from '@temporalio/proto';
import { EncryptionCodec } from '../../codec/encryption-codec';
import { loadPayloadKeyRing } from '../../codec/payload-keys';

const EVENTS_PER_PAGE = 200;
const ORG_ID = '9f3c1a2b-4d5e-6f70-8192-a3b4c5d6e7f8';
const ACTIONS = [
  'user_added_to_group',
  'user_removed_from_group',
  'group_created',
  'product_access_granted',
  'api_token_created',
  'user_invited',
];
const PEOPLE = [
  'Dana Admin',
  'Lee Dev',
  'Zoë Ångström',
  'Priya Raman',
  'Tomás Ruiz',
  'Build Bot',
  'Mei Chen',
  'Olu Adeyemi',
];
const PLACES = [
  { countryName: 'Ireland', regionName: 'Leinster', city: 'Dublin' },
  { countryName: 'United States', regionName: 'California', city: 'San Francisco' },
  { countryName: 'Germany', regionName: 'Berlin', city: 'Berlin' },
];

function pick<T>(items: readonly T[], index: number): T {
  return items[index % items.length]!;
}

function emailOf(name: string): string {
  return `${name.toLowerCase().normalize('NFD').replace(/[^a-z ]/g, '').replace(/ /g, '.')}@example.com`;
}

function auditEvent(index: number): unknown {
  const id = randomUUID();
  const actorName = pick(PEOPLE, index);
  const subjectName = pick(PEOPLE, index * 3 + 1);
  const group = `team-${pick(['sre', 'payments', 'security', 'support'], index)}-${index % 7}`;
  const time = new Date(Date.UTC(2025, 10, 20, 14, 0, 0) + index * 17_000);
  const actorId = `5b10ac8d82e05b22cc7d${(4000 + index).toString(16)}`;
  return {
    id,
    type: 'events',
    attributes: {
      time: time.toISOString(),
      processedAt: new Date(time.getTime() + 400 + (index % 5) * 130).toISOString(),
      action: pick(ACTIONS, index),
      actor: {
        id: actorId,
        name: actorName,
        email: emailOf(actorName),
        links: { self: `https://api.atlassian.com/users/${actorId}/manage/profile` },
      },
      context: [
        {
          id: `712020:${randomUUID()}`,
          type: 'users',
          attributes: { name: subjectName, email: emailOf(subjectName), accountType: 'atlassian' },
        },
        { id: randomUUID(), type: 'groups', attributes: { name: group, groupName: group } },
      ],
      container: [
        {
          id: 'd2c4e6f8-0000-4000-8000-123456789abc',
          type: 'sites',
          attributes: { siteHostName: 'https://example.atlassian.net', siteName: 'example' },
          links: { alt: 'https://example.atlassian.net' },
        },
      ],
      location: { ip: `203.0.113.${index % 250}`, ...pick(PLACES, index) },
    },
    links: { self: `https://api.atlassian.com/admin/v1/orgs/${ORG_ID}/events/${id}` },
    message: { content: `Added ${subjectName} to ${group}`, format: 'simple' },
  };
}

function wireBytes(payload: Parameters<typeof temporal.api.common.v1.Payload.encode>[0]): number {
  return temporal.api.common.v1.Payload.encode(payload).finish().length;
}

async function main(): Promise<void> {
  const page = {
    data: Array.from({ length: EVENTS_PER_PAGE }, (_, index) => auditEvent(index)),
    meta: { next: randomBytes(48).toString('base64url'), page_size: EVENTS_PER_PAGE },
    links: { self: `https://api.atlassian.com/admin/v1/orgs/${ORG_ID}/events-stream?limit=${EVENTS_PER_PAGE}` },
  };
  const keys = loadPayloadKeyRing({ AUDIT_PAYLOAD_KEY: randomBytes(32).toString('base64') })!;
  const plain = defaultPayloadConverter.toPayload(page);
  const [encrypted] = await new EncryptionCodec({ keys, compress: false }).encode([plain]);
  const compressingCodec = new EncryptionCodec({ keys });
  const [compressedEncrypted] = await compressingCodec.encode([plain]);

  const started = process.hrtime.bigint();
  const rounds = 50;
  for (let round = 0; round < rounds; round++) {
    await compressingCodec.decode(await compressingCodec.encode([plain]));
  }
  const roundTripMs = Number(process.hrtime.bigint() - started) / 1e6 / rounds;

  const rows: [string, number][] = [
    ['plain (json/plain)', wireBytes(plain)],
    ['encrypted', wireBytes(encrypted!)],
    ['compressed + encrypted', wireBytes(compressedEncrypted!)],
  ];
  const plainBytes = wireBytes(plain);
  console.log(`one events-stream page of ${EVENTS_PER_PAGE} events as one Temporal payload (serialized bytes):`);
  for (const [label, bytes] of rows) {
    const perEvent = (bytes / EVENTS_PER_PAGE).toFixed(0);
    const ratio = ((bytes / plainBytes) * 100).toFixed(1);
    console.log(
      `  ${label.padEnd(24)} ${String(bytes).padStart(8)} B  ${perEvent.padStart(5)} B/event  ${ratio.padStart(6)} %`
    );
  }
  console.log(
    `  compress + encrypt + decrypt + inflate: ${roundTripMs.toFixed(2)} ms per page (mean of ${rounds} round trips)`
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
