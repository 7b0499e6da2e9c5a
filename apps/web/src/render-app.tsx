// For component tests: the whole app at a path, on a given fake server.
import { render } from '@testing-library/react';
import { MemoryRouter } from 'react-router';
import { Api, type Fetch } from './api';
import { App } from './app';
import { SessionProvider } from './session';

export function renderApp(path: string, fetch: Fetch) {
  const api = new Api(fetch);
  return {
    api,
    ...render(
      <MemoryRouter initialEntries={[path]}>
        <SessionProvider api={api}>
          <App />
        </SessionProvider>
      </MemoryRouter>,
    ),
  };
}
