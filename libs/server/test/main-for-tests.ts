// Entry point the e2e harness spawns: any target, chosen by STEVEDORE_TARGET.
import { runTarget } from '../src/bootstrap';
import type { Target } from '@stevedore/platform';

runTarget((process.env.STEVEDORE_TARGET ?? 'all') as Target);
