import { fireEvent, screen, waitFor } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { Change, Entry } from '@stevedore/api-contract';
import { CONTAINER_ID, container, entry } from '../container-fixtures';
import { error, fakeServer, type Sent } from '../fake-server';
import { aliceSession } from '../fixtures';
import { renderApp } from '../render-app';
import { cellTexts } from '../test-table';

const pathOf = (req: Sent) => new URL(req.url, 'http://x').searchParams.get('path') ?? '/';

/** A container whose image has /home/html/{index.html,old.html}; the read-write layer changed one and deleted the other. */
function platform(session = aliceSession, owner = 'alice') {
  let state: 'running' | 'paused' = 'running';
  const files: Record<string, string> = { '/home/html/index.html': '<h1>hello</h1>\n', '/bin/httpd': '\u007fELF\u0002\u0001\u0000\u0000' };
  const changes: Change[] = [
    { path: '/home', kind: 'C' },
    { path: '/home/html', kind: 'C' },
    { path: '/home/html/index.html', kind: 'C' },
    { path: '/home/html/old.html', kind: 'D' },
  ];
  const dirs: Record<string, Entry[]> = {
    '/': [entry('bin', 'directory'), entry('home', 'directory')],
    '/home': [entry('home/html', 'directory')],
    '/home/html': [entry('home/html/index.html', 'file', 15)],
  };
  return fakeServer({
    getSession: () => ({ status: 200, body: session }),
    inspectContainer: () => ({ status: 200, body: container({ owner, state, pausedBy: state === 'paused' ? ['alice'] : [] }) }),
    statPath: (req) => {
      const p = pathOf(req);
      if (dirs[p]) return { status: 200, body: entry(p.slice(1), 'directory') };
      if (files[p] !== undefined) return { status: 200, body: { ...entry(p.slice(1), 'file', files[p].length), uid: 33, gid: 33 } };
      return error(404, 'NOT_FOUND', `no such path ${p}`);
    },
    listDir: (req) => ({ status: 200, body: { entries: dirs[pathOf(req)] } }),
    containerChanges: () => ({ status: 200, body: { changes } }),
    readFile: (req) => ({ status: 200, text: files[pathOf(req)] }),
    writeFile: (req) => {
      files[pathOf(req)] = String(req.body);
      return { status: 201, body: entry(pathOf(req).slice(1), 'file', String(req.body).length) };
    },
    removeFile: (req) => {
      delete files[pathOf(req)];
      dirs['/home/html'] = dirs['/home/html'].filter((e) => `/${e.path}` !== pathOf(req));
      // An image's file, changed then deleted, is one D (a whiteout) as on the server.
      changes.splice(
        changes.findIndex((c) => c.path === pathOf(req)),
        1,
        { path: pathOf(req), kind: 'D' },
      );
      return { status: 204 };
    },
    pauseContainer: () => {
      state = 'paused';
      return { status: 200, body: container({ state, pausedBy: ['alice'] }) };
    },
    unpauseContainer: () => ({ status: 200, body: container() }),
  });
}

const rowsOf = (table: HTMLElement) => cellTexts(table).map((r) => r.slice(0, 5));

describe('container page', () => {
  it("browses the merged view with the read-write layer's changes marked and a deleted file as a whiteout", async () => {
    const s = platform();
    renderApp(`/containers/${CONTAINER_ID}`, s.fetch);
    await userEvent.click(await screen.findByRole('link', { name: 'home' }));
    await userEvent.click(await screen.findByRole('link', { name: 'html' }));
    const table = await screen.findByRole('table', { name: 'Entries of /home/html, with the read-write layer’s changes' });
    expect(rowsOf(table)).toEqual([
      ['C (changed)', 'index.html', 'file', '15 B', '0644'],
      ['D (deleted)', 'old.html', 'whiteout', '—', '—'],
    ]);
    // docker diff, in full.
    const diff = screen.getByRole('table', { name: 'docker diff: the read-write layer’s changes' });
    expect(rowsOf(diff).map((r) => r.join(' '))).toEqual([
      'C (changed) /home',
      'C (changed) /home/html',
      'C (changed) /home/html/index.html',
      'D (deleted) /home/html/old.html',
    ]);
  });

  it('edits a small text file in place, deletes it, and uploads a file to a path', async () => {
    const s = platform();
    renderApp(`/containers/${CONTAINER_ID}?path=%2Fhome%2Fhtml%2Findex.html`, s.fetch);
    const editor = (await screen.findByLabelText('Content of /home/html/index.html')) as HTMLTextAreaElement;
    expect(editor.value).toBe('<h1>hello</h1>\n');
    await userEvent.clear(editor);
    await userEvent.type(editor, '<h1>v2</h1>');
    await userEvent.click(screen.getByRole('button', { name: 'Save' }));
    expect((await screen.findByRole('status')).textContent).toBe('Saved /home/html/index.html.');
    const put = s.sent.find((r) => r.method === 'PUT')!;
    // The edit keeps the file's mode and owner.
    expect(put.url).toBe(`/api/v1/containers/${CONTAINER_ID}/files?path=%2Fhome%2Fhtml%2Findex.html&mode=0644&uid=33&gid=33`);
    expect(put.body).toBe('<h1>v2</h1>');
    expect(put.headers['content-type']).toBe('application/octet-stream');

    await userEvent.click(screen.getByRole('button', { name: 'Delete /home/html/index.html' }));
    // Back in the directory, where the deleted file is a whiteout.
    const table = await screen.findByRole('table', { name: /^Entries of \/home\/html/ });
    await waitFor(() => expect(rowsOf(table).map((r) => r[1] + ' ' + r[2])).toEqual(['index.html whiteout', 'old.html whiteout']));
    expect(s.sent.some((r) => r.method === 'DELETE' && r.url.endsWith('/files?path=%2Fhome%2Fhtml%2Findex.html'))).toBe(true);

    const file = new File(['<h1>new</h1>\n'], 'index.html', { type: 'text/html' });
    fireEvent.change(screen.getByLabelText('File to upload'), { target: { files: [file] } });
    expect((screen.getByLabelText(/^Path in the container/) as HTMLInputElement).value).toBe('/home/html/');
    await userEvent.click(screen.getByRole('button', { name: 'Upload' }));
    expect((await screen.findByRole('status')).textContent).toBe('Uploaded /home/html/index.html.');
    const upload = s.sent.filter((r) => r.method === 'PUT')[1];
    expect(upload.url).toBe(`/api/v1/containers/${CONTAINER_ID}/files?path=%2Fhome%2Fhtml%2Findex.html&mode=0644`);
    expect(upload.body).toBe(file);
  });

  it('does not put a binary file in the editor, where saving would change its bytes, but offers to delete it', async () => {
    const s = platform();
    renderApp(`/containers/${CONTAINER_ID}?path=%2Fbin%2Fhttpd`, s.fetch);
    await screen.findByText('This file is not UTF-8 text, so it is not shown here.');
    expect(screen.queryByLabelText(/^Content of/)).toBeNull();
    expect(screen.queryByRole('button', { name: 'Save' })).toBeNull();
    expect(screen.getByRole('button', { name: 'Delete /bin/httpd' })).toBeTruthy();
  });

  it('pauses and unpauses, and offers a commit', async () => {
    const s = platform();
    renderApp(`/containers/${CONTAINER_ID}`, s.fetch);
    await userEvent.click(await screen.findByRole('button', { name: 'Pause' }));
    expect((await screen.findByRole('status')).textContent).toBe('Paused web1.');
    await screen.findByText('paused (by alice)');
    expect(screen.getByRole('button', { name: 'Unpause' })).toBeTruthy();
    expect(s.sent.some((r) => r.method === 'POST' && r.url === `/api/v1/containers/${CONTAINER_ID}/pause`)).toBe(true);
    expect(screen.getByRole('link', { name: 'Commit' }).getAttribute('href')).toBe(`/commit?container=${CONTAINER_ID}`);
  });

  it('removes the container only once asked to confirm, then goes back to the list', async () => {
    const s = platform();
    let removed = false;
    const fetch: typeof s.fetch = (url, init) => {
      if (init.method === 'DELETE' && url === `/api/v1/containers/${CONTAINER_ID}`) {
        removed = true;
        return Promise.resolve(new Response(null, { status: 204 }));
      }
      if (url === '/api/v1/containers' && removed) return Promise.resolve(Response.json({ containers: [] }));
      return s.fetch(url, init);
    };
    renderApp(`/containers/${CONTAINER_ID}`, fetch);
    await userEvent.click(await screen.findByRole('button', { name: 'Remove container' }));
    expect(removed).toBe(false);
    await userEvent.click(screen.getByRole('button', { name: 'Keep it' }));
    await userEvent.click(screen.getByRole('button', { name: 'Remove container' }));
    expect(screen.getByRole('group', { name: 'Confirm removal' }).textContent).toContain('Remove web1 and its read-write layer?');
    await userEvent.click(screen.getByRole('button', { name: 'Yes, remove' }));
    await screen.findByRole('heading', { level: 1, name: 'Containers' });
    expect(removed).toBe(true);
    await screen.findByText('No containers yet.');
  });

  it('hides every change from a caller who may only look (not the owner, not an admin)', async () => {
    const s = platform({ ...aliceSession, user: 'carol' }, 'alice');
    renderApp(`/containers/${CONTAINER_ID}?path=%2Fhome%2Fhtml`, s.fetch);
    await screen.findByRole('table', { name: /^Entries of \/home\/html/ });
    expect(screen.getByText('You may look at this container but not change it.')).toBeTruthy();
    for (const name of [/^Delete/, 'Pause', 'Remove container', 'Upload']) expect(screen.queryByRole('button', { name })).toBeNull();
    expect(screen.queryByRole('link', { name: 'Commit' })).toBeNull();
  });

  it("says when the container is not there or not the caller's", async () => {
    const s = fakeServer({
      getSession: () => ({ status: 200, body: aliceSession }),
      inspectContainer: () => error(403, 'DENIED', 'denied'),
    });
    renderApp(`/containers/${CONTAINER_ID}`, s.fetch);
    expect((await screen.findByRole('alert')).textContent).toBe('There is no such container, or you may not see it.');
  });
});
