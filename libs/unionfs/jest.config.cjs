module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'unionfs',
  rootDir: __dirname,
};
