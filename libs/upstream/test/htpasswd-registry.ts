// The push/replicate target: the reference registry with htpasswd (Basic) auth.
import bcrypt from 'bcryptjs';

import { startReferenceRegistry } from '@stevedore/testing';

export interface HtpasswdRegistry {
  url: string;
  host: string;
  username: string;
  password: string;
  stop(): Promise<void>;
}

export async function startHtpasswdRegistry(username = 'pusher', password = 'secret-pass'): Promise<HtpasswdRegistry> {
  // Go's bcrypt reads $2a$; for passwords this short $2b$ is the same hash.
  const line = `${username}:${bcrypt.hashSync(password, 6).replace(/^\$2b\$/, '$2a$')}\n`;
  const r = await startReferenceRegistry({ htpasswd: line });
  return { url: r.url, host: new URL(r.url).host, username, password, stop: () => r.stop() };
}
