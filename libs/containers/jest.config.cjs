module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'containers',
  rootDir: __dirname,
};
