// Who is signed in, for every page: read once from GET /api/v1/session, set by signing in, cleared
// by signing out. A session that ends while the page is open sends the reader to a page that says so.
import { createContext, useCallback, useContext, useEffect, useMemo, useState, type ReactNode } from 'react';
import { useNavigate } from 'react-router';
import type { Session } from '@stevedore/api-contract';
import type { Api } from './api';

interface SessionState {
  api: Api;
  /** undefined while loading; null when anonymous. */
  session: Session | null | undefined;
  signIn(username: string, password: string): Promise<void>;
  signOut(): Promise<void>;
}

const SessionContext = createContext<SessionState | undefined>(undefined);

export function SessionProvider({ api, children }: { api: Api; children: ReactNode }) {
  const [session, setSession] = useState<Session | null | undefined>(undefined);
  const navigate = useNavigate();

  const ended = useCallback(() => {
    setSession(null);
    // Clear the cookie of the ended session, so the reader can go on anonymously.
    api.signOut().catch(() => undefined);
    navigate('/session-ended');
  }, [api, navigate]);

  useEffect(() => api.onSessionEnded(ended), [api, ended]);
  useEffect(() => {
    api.session().then(
      (s) => setSession(s ?? null),
      () => setSession(null),
    );
  }, [api]);

  const value = useMemo<SessionState>(
    () => ({
      api,
      session,
      signIn: async (username, password) => setSession(await api.signIn(username, password)),
      signOut: async () => {
        await api.signOut();
        setSession(null);
      },
    }),
    [api, session],
  );
  return <SessionContext.Provider value={value}>{children}</SessionContext.Provider>;
}

export function useSession(): SessionState {
  const s = useContext(SessionContext);
  if (!s) throw new Error('useSession outside SessionProvider');
  return s;
}
