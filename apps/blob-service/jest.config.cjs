module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'blob-service',
  rootDir: __dirname,
};
