/** Atlassian's action catalogue is fetched once per org and cached; when it cannot be had, mapping goes on without it. */
import { MockActivityEnvironment } from '@temporalio/testing';
import { ActionCatalogueCache } from '../../activities/action-catalogue-cache';
import { createHttpAgent } from '../../activities/http-client';
import { AtlassianStandin } from '../../dev/standins/atlassian-standin';

const KEY = 'catalogue-test-key';
const credential = { ref: 'env:ATLASSIAN_API_KEY', version: 1 };
let standin: AtlassianStandin;
const dispatcher = createHttpAgent();

beforeAll(async () => {
  standin = await AtlassianStandin.start();
  standin.addOrg('org-a', { apiKeys: [KEY] });
});

afterAll(async () => {
  await standin.close();
  await dispatcher.close();
});

function cache(now: () => number, env = { ATLASSIAN_API_KEY: KEY }) {
  return new ActionCatalogueCache({ atlassianBaseUrl: standin.url, dispatcher, env, now, ttlMs: 1_000, retryAfterFailureMs: 500 });
}

/** The cache logs through the activity context, so it runs inside a mock one, as in the map activity. */
const within = <T>(work: () => Promise<T>) => new MockActivityEnvironment().run(work) as Promise<T>;

test('fetches once per org within the TTL, then again after it', async () => {
  let now = 0;
  const catalogues = cache(() => now);
  const first = await within(() => catalogues.get('org-a', credential));
  expect(first?.group_created?.displayName).toBeTruthy();
  await within(() => catalogues.get('org-a', credential));
  expect(standin.requestCount('org-a', 'event-actions')).toBe(1);
  now = 1_001;
  await within(() => catalogues.get('org-a', credential));
  expect(standin.requestCount('org-a', 'event-actions')).toBe(2);
});

test('a refused key gives no catalogue, no failure, and a retry only after the back-off', async () => {
  let now = 0;
  const catalogues = cache(() => now, { ATLASSIAN_API_KEY: 'not-the-key' });
  const before = standin.requestCount('org-a', 'event-actions');
  expect(await within(() => catalogues.get('org-a', credential))).toBeUndefined();
  await within(() => catalogues.get('org-a', credential));
  expect(standin.requestCount('org-a', 'event-actions')).toBe(before + 1);
  now = 501;
  await within(() => catalogues.get('org-a', credential));
  expect(standin.requestCount('org-a', 'event-actions')).toBe(before + 2);
});
