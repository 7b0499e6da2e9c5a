// The commit-latency benchmark: run by hand, never by npm test (figures, not assertions on time).
module.exports = {
  ...require('../../../jest.preset.js'),
  displayName: 'commits-bench',
  rootDir: __dirname,
  testMatch: ['**/*.bench.ts'],
};
