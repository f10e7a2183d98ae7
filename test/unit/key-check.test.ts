/** Real mode's first run names the key that is wrong, before the org starts. */
import { DEFAULT_CREDENTIAL_POLICY } from '../../activities/credentials';
import { createHttpAgent } from '../../activities/http-client';
import { checkRealKeys, KeyCheckError } from '../../dev/demo/key-check';
import { AtlassianStandin } from '../../dev/standins/atlassian-standin';
import { DatadogStandin } from '../../dev/standins/datadog-standin';

const ORG = 'org-key-check';
const KEYS = { atlassian: 'key-check-atlassian-7a1b', datadog: 'key-check-datadog-2c3d' };
let atlassian: AtlassianStandin;
let datadog: DatadogStandin;
const dispatcher = createHttpAgent();

beforeAll(async () => {
  atlassian = await AtlassianStandin.start();
  atlassian.addOrg(ORG, { apiKeys: [KEYS.atlassian] });
  datadog = await DatadogStandin.start({ apiKeys: [KEYS.datadog] });
});
afterAll(async () => {
  await Promise.all([atlassian.close(), datadog.close(), dispatcher.close()]);
});

const check = (env: Record<string, string>, orgId = ORG) =>
  checkRealKeys({
    orgId,
    atlassianBaseUrl: atlassian.url,
    datadogApiBaseUrl: datadog.origin,
    dispatcher,
    env,
    credentialPolicy: DEFAULT_CREDENTIAL_POLICY,
  });

test('two good keys pass, with one Atlassian request and one Datadog validation', async () => {
  const before = atlassian.requestCount(ORG);
  await expect(check({ ATLASSIAN_API_KEY: KEYS.atlassian, DD_API_KEY: KEYS.datadog })).resolves.toEqual([]);
  expect(atlassian.requestCount(ORG) - before).toBe(1);
});

test.each([
  ['a wrong Atlassian key', { ATLASSIAN_API_KEY: 'wrong-atlassian-key-1', DD_API_KEY: KEYS.datadog }, ORG, /^Atlassian refused ATLASSIAN_API_KEY \(401\)/],
  ['a wrong Datadog key', { ATLASSIAN_API_KEY: KEYS.atlassian, DD_API_KEY: 'wrong-datadog-key-1' }, ORG, /^Datadog refused DD_API_KEY \(403\)/],
  ['an org Atlassian does not know', { ATLASSIAN_API_KEY: KEYS.atlassian, DD_API_KEY: KEYS.datadog }, 'no-such-org', /^Atlassian does not know org no-such-org/],
  ['an unset key', { DD_API_KEY: KEYS.datadog }, ORG, /env:ATLASSIAN_API_KEY is not set/],
])('%s is named, and no key is printed', async (_, env, orgId, message) => {
  const error = await check(env, orgId).catch((err: unknown) => err);
  expect(error).toBeInstanceOf(KeyCheckError);
  expect((error as Error).message).toMatch(message);
  for (const value of Object.values(env)) expect((error as Error).message).not.toContain(value);
});
