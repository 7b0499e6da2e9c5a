import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { JobSummary } from '@stevedore/api-contract';
import { aliceSession } from '../fixtures';
import { error, fakeServer } from '../fake-server';
import { renderApp } from '../render-app';
import { cellTexts } from '../test-table';

const job = (id: string, kind: JobSummary['kind'], state: JobSummary['state'], description: string, extra: Partial<JobSummary> = {}) =>
  ({
    id,
    kind,
    queue: kind === 'batch' ? 'commit' : kind,
    state,
    owner: 'alice',
    description,
    createdAt: '2026-12-02T10:00:00.000Z',
    links: { self: `/api/v1/x/${id}` },
    ...extra,
  }) as JobSummary;

const JOBS: JobSummary[] = [
  job('e2', 'export', 'active', 'save alice/app:v1 alice/app:v2'),
  job('c1', 'commit', 'waiting', 'commit happy_turing -> alice/app:v3'),
  job('e1', 'export', 'completed', 'save alice/app:v1', { finishedAt: '2026-12-02T10:01:00.000Z' }),
  job('i1', 'import', 'failed', 'load', {
    finishedAt: '2026-12-02T10:02:00.000Z',
    error: { code: 'MANIFEST_INVALID', message: 'the archive has no manifest.json or index.json' },
  }),
];

function server(session = aliceSession) {
  return fakeServer({
    getSession: () => ({ status: 200, body: session }),
    listJobs: () => ({ status: 200, body: { items: JOBS } }),
    exportStatus: () => ({
      status: 200,
      body: {
        id: 'e2',
        kind: 'export',
        state: 'active',
        progress: { phase: 'writing', bytes: 40, totalBytes: 100, percent: 40 },
        attempts: 0,
        createdAt: '2026-12-02T10:00:00.000Z',
      },
    }),
    job: () => ({
      status: 200,
      body: {
        id: 'c1',
        kind: 'commit',
        state: 'waiting',
        progress: null,
        attempts: 0,
        createdAt: '2026-12-02T10:00:00.000Z',
        links: { self: '/api/v1/jobs/c1', events: '/api/v1/jobs/c1/events' },
      },
    }),
    cancelJob: () => ({ status: 202, body: { id: 'c1', state: 'cancelled' } }),
    createExport: () => ({
      status: 202,
      body: { id: 'e3', kind: 'export', state: 'waiting', progress: null, attempts: 0, createdAt: '2026-12-02T10:05:00.000Z' },
    }),
  });
}

describe('jobs page', () => {
  it('lists every kind of job with its state, progress and error; cancels a commit and downloads a finished export', async () => {
    const s = server();
    renderApp('/jobs', s.fetch);
    const table = await screen.findByRole('table', { name: 'Jobs, newest first' });
    await waitFor(() => expect(within(table).getByRole('progressbar', { name: /Progress of save alice\/app:v1 alice/ })).toBeTruthy());
    expect(cellTexts(table).map((c) => c.slice(0, 4))).toEqual([
      ['export', 'save alice/app:v1 alice/app:v2', 'active', '40%'],
      ['commit', 'commit happy_turing -> alice/app:v3', 'waiting', '—'],
      ['export', 'save alice/app:v1', 'completed', '100%'],
      ['import', 'loadMANIFEST_INVALID: the archive has no manifest.json or index.json', 'failed', '—'],
    ]);
    // Only the commit can be cancelled; only the finished export downloads.
    expect(within(table).getAllByRole('button', { name: /^Cancel/ })).toHaveLength(1);
    const download = within(table).getByRole('link', { name: 'Download the archive of save alice/app:v1' });
    expect(download.getAttribute('href')).toBe('/api/v1/exports/e1/archive');
    await userEvent.click(within(table).getByRole('button', { name: 'Cancel commit happy_turing -> alice/app:v3' }));
    expect((await screen.findByText(/^Cancelled /)).textContent).toBe('Cancelled commit happy_turing -> alice/app:v3.');
    const cancel = s.sent.find((r) => r.method === 'DELETE');
    expect(cancel?.url).toBe('/api/v1/jobs/c1');
    expect(cancel?.headers['x-csrf-token']).toBe(aliceSession.csrfToken);
  });

  it('starts an export of several images with the chosen compression', async () => {
    const s = server();
    renderApp('/jobs', s.fetch);
    await userEvent.type(await screen.findByRole('textbox', { name: 'Images' }), 'alice/app:v1, alice/app:v2');
    await userEvent.click(screen.getByRole('button', { name: /Compression/ }));
    await userEvent.click(await screen.findByRole('option', { name: 'gzip' }));
    await userEvent.click(screen.getByRole('button', { name: 'Start the export' }));
    await screen.findByText(/^Saving alice\/app:v1, alice\/app:v2/);
    expect(s.sent.find((r) => r.method === 'POST')?.body).toEqual({ references: ['alice/app:v1', 'alice/app:v2'], compression: 'gzip' });
  });

  it('uploads an archive to load with a progress bar and the anti-CSRF token, and says what the server refused', async () => {
    const s = server({ ...aliceSession, user: 'root', admin: true });
    const { api } = renderApp('/jobs', s.fetch);
    const uploads: Array<{ url: string; headers: Record<string, string>; size: number }> = [];
    let answer = { status: 202, text: '' };
    api.uploader = async (url, headers, body, onProgress) => {
      uploads.push({ url, headers, size: body.size });
      onProgress(body.size / 2, body.size);
      onProgress(body.size, body.size);
      return answer;
    };
    answer = {
      status: 202,
      text: JSON.stringify({
        id: 'i2',
        kind: 'import',
        state: 'waiting',
        progress: null,
        attempts: 0,
        createdAt: '2026-12-02T10:06:00.000Z',
      }),
    };
    const file = new File([new Uint8Array(2048)], 'app.tar', { type: 'application/x-tar' });
    await userEvent.upload(await screen.findByLabelText('Archive'), file);
    await userEvent.type(screen.getByRole('textbox', { name: /Repository/ }), 'alice/loaded');
    await userEvent.click(screen.getByRole('button', { name: 'Upload' }));
    await waitFor(() => expect(uploads.length).toBe(1));
    await screen.findByText('Uploaded app.tar: the load job reads it now (see the list below).');
    const bar = screen.getByRole('progressbar', { name: 'Upload' });
    expect(bar.getAttribute('aria-valuenow')).toBe('100');
    expect(bar.textContent).toBe('100% (2.0 KB of 2.0 KB)');
    expect(uploads).toEqual([
      {
        url: '/api/v1/imports?repository=alice%2Floaded',
        headers: { accept: 'application/json', 'content-type': 'application/x-tar', 'x-csrf-token': aliceSession.csrfToken },
        size: 2048,
      },
    ]);

    answer = { status: 400, text: JSON.stringify(error(400, 'INVALID_REQUEST', 'not a tar archive').body) };
    await userEvent.click(screen.getByRole('radio', { name: /root filesystem/ }));
    await userEvent.type(screen.getByRole('textbox', { name: /Image to make/ }), 'x');
    await userEvent.click(screen.getByRole('button', { name: 'Upload' }));
    expect((await screen.findByRole('alert')).textContent).toBe('not a tar archive');
    expect(uploads[1].url).toBe('/api/v1/images/import?ref=alice%2Floadedx');
  });

  it('offers a load to admins only: a user imports a root filesystem', async () => {
    const s = server();
    const { api } = renderApp('/jobs', s.fetch);
    const urls: string[] = [];
    api.uploader = async (url, _headers, body, onProgress) => {
      urls.push(url);
      onProgress(body.size, body.size);
      return {
        status: 201,
        text: JSON.stringify({
          reference: 'alice/rootfs:v1',
          digest: 'sha256:' + 'a'.repeat(64),
          id: 'sha256:' + 'b'.repeat(64),
          layer: { digest: 'sha256:' + 'c'.repeat(64), size: 3, diffId: 'sha256:' + 'd'.repeat(64), uncompressedSize: 10 },
        }),
      };
    };
    const load = await screen.findByRole('radio', { name: /docker load: administrators only/ });
    expect(load.hasAttribute('disabled')).toBe(true);
    expect((screen.getByRole('radio', { name: /docker import/ }) as HTMLInputElement).checked).toBe(true);
    await userEvent.upload(screen.getByLabelText('Archive'), new File(['abc'], 'rootfs.tar'));
    await userEvent.type(screen.getByRole('textbox', { name: /Image to make/ }), 'alice/rootfs:v1');
    await userEvent.click(screen.getByRole('button', { name: 'Upload' }));
    await screen.findByText('Imported rootfs.tar as alice/rootfs:v1.');
    expect(urls).toEqual(['/api/v1/images/import?ref=alice%2Frootfs%3Av1']);
  });

  it('asks an anonymous visitor to sign in', async () => {
    const s = fakeServer({ getSession: () => error(401, 'UNAUTHORIZED', 'not signed in', { session: 'none' }) });
    renderApp('/jobs', s.fetch);
    expect(await screen.findByText('Sign in to see your jobs, save images and load archives.')).toBeTruthy();
    expect(screen.queryByRole('link', { name: 'Jobs' })).toBeNull();
    expect(s.sent.map((r) => r.url)).not.toContain('/api/v1/jobs?n=200');
  });
});
