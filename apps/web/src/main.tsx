// The web UI's entry: the browser's fetch, the router, the session.
import { StrictMode } from 'react';
import { createRoot } from 'react-dom/client';
import { BrowserRouter } from 'react-router';
import { Api } from './api';
import { App } from './app';
import { SessionProvider } from './session';
import './styles.css';

const api = new Api();
createRoot(document.getElementById('root')!).render(
  <StrictMode>
    <BrowserRouter>
      <SessionProvider api={api}>
        <App />
      </SessionProvider>
    </BrowserRouter>
  </StrictMode>,
);
