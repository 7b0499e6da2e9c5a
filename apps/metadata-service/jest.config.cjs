module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'metadata-service',
  rootDir: __dirname,
};
