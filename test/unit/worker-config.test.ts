/** AUDIT_PACE_GROUPS: the pace groups a worker serves, each with its requests per minute; a bad entry stops the worker with one line. */
import { ConfigError, loadWorkerConfig } from '../../worker/config';

describe('AUDIT_PACE_GROUPS', () => {
  test('unset or blank: no pace group', () => {
    expect(loadWorkerConfig({}).paceGroups).toEqual({});
    expect(loadWorkerConfig({ AUDIT_PACE_GROUPS: '  ' }).paceGroups).toEqual({});
  });

  test('name=requests-per-minute, comma-separated, spaces around entries allowed', () => {
    expect(loadWorkerConfig({ AUDIT_PACE_GROUPS: 'one-admin-key=50, it_ops=30,' }).paceGroups).toEqual({ 'one-admin-key': 50, it_ops: 30 });
  });

  test.each([
    ['one-admin-key', 'AUDIT_PACE_GROUPS must list groups as name=requests-per-minute, comma-separated'],
    ['one-admin-key=fifty', 'AUDIT_PACE_GROUPS must list groups as name=requests-per-minute, comma-separated'],
    ['One Admin=50', 'AUDIT_PACE_GROUPS must name groups with lower-case letters, digits, - and _'],
    ['one-admin-key=0', 'AUDIT_PACE_GROUPS must give each group at least 1 request per minute'],
    ['one-admin-key=6001', 'AUDIT_PACE_GROUPS must give each group at most 6000 requests per minute'],
  ])('%s is refused: %s', (value, message) => {
    expect(() => loadWorkerConfig({ AUDIT_PACE_GROUPS: value })).toThrow(new ConfigError(`Invalid configuration: ${message}`));
  });
});
