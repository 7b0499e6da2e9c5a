// The Playwright e2e (a real platform, Debian's chromium); the component tests run under Vitest.
module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'web',
  rootDir: __dirname,
  testMatch: ['<rootDir>/e2e/**/*.e2e-spec.ts'],
};
