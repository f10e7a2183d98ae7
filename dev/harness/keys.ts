/** The credentials of the harness: the stand-ins accept these keys, and only the workers hold them. */

/** Recognisable strings, so that tests can search history and output for them. */
export const TEST_KEYS = {
  atlassian: 'atlassian-test-key-5f2c9e0d7a',
  atlassianRotated: 'atlassian-rotated-key-81b4c3',
  datadog: 'datadog-test-key-0c1d2e3f4a',
  datadogRotated: 'datadog-rotated-key-9e8d7c',
} as const;

/**
 * The environment that workers resolve `env:` credential references against, never the caller's own: in-process
 * workers get it as their activities' `env`, worker processes as their environment.
 */
export const WORKER_ENV = {
  ATLASSIAN_API_KEY: TEST_KEYS.atlassian,
  ATLASSIAN_API_KEY_ROTATED: TEST_KEYS.atlassianRotated,
  DD_API_KEY: TEST_KEYS.datadog,
  DD_API_KEY_ROTATED: TEST_KEYS.datadogRotated,
};
