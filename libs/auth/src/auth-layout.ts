// Auth's keyspace, written down in one place (only libs/auth reads or writes it). Storage:
//
//   auth/users/<name>.json            a user or robot (password hash, scopes, owner, disabled)
//   auth/public/<repository>/flag     the repository is public (anonymous pull)
//
// Redis (<p> is STEVEDORE_REDIS_PREFIX):
//
//   <p>:auth:user:<name>              cached user record
//   <p>:auth:public                   set of public repositories (index of auth/public/)
//   <p>:auth:fail:{user,ip}:<id>      failed-login counter (expires with the window)
//   <p>:auth:session:<sha256 of id>   a browser session (JSON: user, anti-CSRF token, password
//                                     fingerprint, created, expires); expires with the session
//   <p>:auth:sessions:<user>          set of that user's session keys (to end them all at once)
//
// Redis Cluster: no two of these keys are written in one MULTI. A session and its user's set are in
// two slots (a session is found by its id alone): the set is written first and emptied last
// (session-store.ts), so a session is never missing from its user's set; the failure counters of a
// user and of an address are each their own MULTI (login-limiter.ts).
//
// Sessions live in Redis only: losing Redis signs everyone out, which is safe (they sign in again).
// The key is a hash of the cookie's id, so a copy of Redis holds no usable cookie.
import type { RedisKeys } from '@stevedore/platform';

export const AuthPaths = {
  usersRoot: 'auth/users/',
  user: (name: string) => `auth/users/${name}.json`,
  /** The user name a path under usersRoot names, or undefined. */
  userOf: (path: string) => /^auth\/users\/([^/]+)\.json$/.exec(path)?.[1],
  publicRoot: 'auth/public/',
  publicFlag: (repository: string) => `auth/public/${repository}/flag`,
  publicOf: (path: string) => /^auth\/public\/(.+)\/flag$/.exec(path)?.[1],
} as const;

export function authKeys(keys: RedisKeys) {
  return {
    user: (name: string) => keys.key('auth', 'user', name),
    public: () => keys.key('auth', 'public'),
    failures: (kind: 'user' | 'ip', id: string) => keys.key('auth', 'fail', kind, id),
    session: (idHash: string) => keys.key('auth', 'session', idHash),
    sessionsOf: (user: string) => keys.key('auth', 'sessions', user),
  };
}
