// Stevedore all-in-one: every service in one process (the embedded default). Wiring only: see libs/server.
import { runTarget } from '@stevedore/server';

runTarget((process.env.STEVEDORE_TARGET as 'all' | undefined) ?? 'all');
