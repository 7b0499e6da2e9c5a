module.exports = {
  ...require('../../jest.preset.js'),
  displayName: 'auth',
  rootDir: __dirname,
  // jose 6 ships ES modules only; Jest's CommonJS runtime needs them compiled like our sources.
  transformIgnorePatterns: ['/node_modules/(?!jose/)'],
};
