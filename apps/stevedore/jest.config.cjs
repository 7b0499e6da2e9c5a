module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'stevedore',
  rootDir: __dirname,
};
