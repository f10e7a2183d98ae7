/** Two projects: fast unit tests, and tests that run workflows on a real Temporal dev server. */
const transform = { '^.+\\.ts$': ['@swc/jest'] };
const common = { testEnvironment: 'node', transform, modulePathIgnorePatterns: ['<rootDir>/lib'] };

module.exports = {
  projects: [
    { ...common, displayName: 'unit', testMatch: ['<rootDir>/test/unit/**/*.test.ts'] },
    {
      ...common,
      displayName: 'workflow',
      testMatch: ['<rootDir>/test/workflow/**/*.test.ts'],
      globalSetup: '<rootDir>/test/support/temporal-global-setup.ts',
      globalTeardown: '<rootDir>/test/support/temporal-global-teardown.ts',
    },
  ],
  testTimeout: 180_000,
};
