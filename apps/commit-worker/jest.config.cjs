module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'commit-worker',
  rootDir: __dirname,
};
