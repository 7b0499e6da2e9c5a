// Shown when the session ended while the page was open (expired, signed out elsewhere, password
// changed, account disabled): say so plainly, and offer signing in again.
import { Link } from 'react-aria-components';
import { usePageTitle } from '../app';

export function SessionEndedPage() {
  usePageTitle('Session ended');
  return (
    <section className="narrow">
      <h1>Your session has ended</h1>
      <p>You were signed out: the session expired, or it was ended by signing out elsewhere, a password change or an administrator.</p>
      <p className="actions">
        <Link href="/sign-in" className="button">
          Sign in again
        </Link>
        <Link href="/repositories">Go on without signing in (public repositories)</Link>
      </p>
    </section>
  );
}
