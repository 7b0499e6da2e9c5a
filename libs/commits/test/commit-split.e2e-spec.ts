// The same commit suite against the split wiring: containers hosted by metadata-service, reached by
// the gateway and the commit worker through the internal API.
process.env.COMMIT_E2E_WIRING = 'split';
require('./commit.e2e-spec');
