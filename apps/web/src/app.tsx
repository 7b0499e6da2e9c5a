// The page frame (skip link, header with who is signed in, main landmark) and the client routes.
// Links are React Aria's, routed through React Router.
import { useEffect, type ReactNode } from 'react';
import { Route, Routes, Navigate, useHref, useNavigate, type NavigateOptions } from 'react-router';
import { Button, Link, RouterProvider } from 'react-aria-components';
import { useSession } from './session';
import { SignInPage } from './pages/sign-in';
import { SessionEndedPage } from './pages/session-ended';
import { RepositoriesPage } from './pages/repositories';
import { RepositoryPage } from './pages/repository';
import { ImagePage } from './pages/image';
import { TagHistoryPage } from './pages/tag-history';
import { FilesPage } from './pages/files';
import { ChangesPage } from './pages/changes';
import { ContainersPage } from './pages/containers';
import { ContainerPage } from './pages/container';
import { CommitPage } from './pages/commit';
import { JobsPage } from './pages/jobs';
import { ADMIN_PATH, AdminPage } from './pages/admin';

declare module 'react-aria-components' {
  interface RouterConfig {
    routerOptions: NavigateOptions;
  }
}

/** Sets the document title (WCAG 2.4.2): each page names itself. */
export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · Stevedore`;
  }, [title]);
}

function Header() {
  const { session, signOut } = useSession();
  const navigate = useNavigate();
  return (
    <header className="site-header">
      <Link href="/repositories" className="brand">
        Stevedore
      </Link>
      <nav aria-label="Main">
        <Link href="/repositories">Repositories</Link>
        {/* Containers belong to signed-in users. */}
        {session ? <Link href="/containers">Containers</Link> : null}
        {session ? <Link href="/jobs">Jobs</Link> : null}
        {/* Shown to admins only; the server refuses the admin routes to anyone else anyway. */}
        {session?.admin ? <Link href={ADMIN_PATH}>Administration</Link> : null}
      </nav>
      <div className="who">
        {session === undefined ? null : session ? (
          <>
            <span>
              Signed in as <strong>{session.user}</strong>
            </span>
            <Button
              className="button secondary"
              onPress={async () => {
                await signOut();
                navigate('/sign-in?signed-out=1');
              }}
            >
              Sign out
            </Button>
          </>
        ) : (
          <Link href="/sign-in" className="button">
            Sign in
          </Link>
        )}
      </div>
    </header>
  );
}

export function Frame({ children }: { children: ReactNode }) {
  return (
    <>
      <a href="#main" className="skip-link">
        Skip to content
      </a>
      <Header />
      <main id="main" tabIndex={-1}>
        {children}
      </main>
    </>
  );
}

export function App() {
  const navigate = useNavigate();
  return (
    <RouterProvider navigate={navigate} useHref={useHref}>
      <Frame>
        <Routes>
          <Route path="/" element={<Navigate to="/repositories" replace />} />
          <Route path="/sign-in" element={<SignInPage />} />
          <Route path="/session-ended" element={<SessionEndedPage />} />
          <Route path="/repositories" element={<RepositoriesPage />} />
          <Route path="/r/*" element={<RepositoryPage />} />
          <Route path="/image/*" element={<ImagePage />} />
          <Route path="/history/*" element={<TagHistoryPage />} />
          <Route path="/files/*" element={<FilesPage />} />
          <Route path="/changes/*" element={<ChangesPage />} />
          <Route path="/containers" element={<ContainersPage />} />
          <Route path="/containers/*" element={<ContainerPage />} />
          <Route path="/commit" element={<CommitPage />} />
          <Route path="/jobs" element={<JobsPage />} />
          <Route path={`${ADMIN_PATH}/*`} element={<AdminPage />} />
          <Route path="*" element={<NotFound />} />
        </Routes>
      </Frame>
    </RouterProvider>
  );
}

function NotFound() {
  usePageTitle('Not found');
  return (
    <>
      <h1>Not found</h1>
      <p>
        There is no page here. <Link href="/repositories">Go to the repositories</Link>.
      </p>
    </>
  );
}
