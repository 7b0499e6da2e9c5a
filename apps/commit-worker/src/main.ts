// The commit-worker target of Stevedore (split deployment). Wiring only: see libs/server.
import { runTarget } from '@stevedore/server';

runTarget('commit-worker');
