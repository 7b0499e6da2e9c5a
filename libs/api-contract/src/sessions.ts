// /api/v1/session (libs/auth): the browser's session. Signing in trades a user name and password
// for an HttpOnly cookie and an anti-CSRF token; the password is never kept by the browser.
import { z } from 'zod';

/** The header every unsafe request signed in by the session cookie carries (the session's csrfToken). */
export const CSRF_HEADER = 'x-csrf-token';
/** The cookie that carries the session id (HttpOnly: scripts never see it). */
export const SESSION_COOKIE = 'stevedore_session';

export const SignInRequestSchema = z.object({ username: z.string().min(1).max(64), password: z.string().min(1).max(1024) });

/** Who the session is and until when; `csrfToken` goes in the X-CSRF-Token header of unsafe requests. */
export const SessionSchema = z.object({
  user: z.string(),
  admin: z.boolean(),
  createdAt: z.string(),
  expiresAt: z.string(),
  csrfToken: z.string(),
});
export type Session = z.infer<typeof SessionSchema>;
