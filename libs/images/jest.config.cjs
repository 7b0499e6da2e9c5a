module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'images',
  rootDir: __dirname,
};
