module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'gc',
  rootDir: __dirname,
};
