module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'commits',
  rootDir: __dirname,
};
