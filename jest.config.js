/**
 * Two projects: fast unit tests, and tests that run workflows on a real Temporal dev server. A green run prints
 * jest's report only; AUDIT_TEST_LOG_LEVEL (test/support/test-log-level.ts) prints the SDK's logs and console output.
 */
const transform = { '^.+\\.ts$': ['@swc/jest'] };
const common = {
  testEnvironment: '<rootDir>/test/support/test-output-environment.ts',
  transform,
  modulePathIgnorePatterns: ['<rootDir>/lib'],
};

module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'workflow',
      testMatch: ['<rootDir>/test/workflow/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/temporal-global-setup.ts',
      globalTeardown: '<rootDir>/test/support/temporal-global-teardown.ts',
      // Only here: it loads the SDK's worker package, which the unit tests mostly do without.
      setupFiles: ['<rootDir>/test/support/sdk-log-setup.ts'],
    },
  ],
  testTimeout: 180_000,
};
