import { screen, waitFor, within } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import { CONTAINER_ID, commitJob, container, sse } from '../container-fixtures';
import { error, fakeServer } from '../fake-server';
import { DIGEST, aliceSession } from '../fixtures';
import { renderApp } from '../render-app';

const AUTHOR = 'Jane Doe <jane@example.com>';
const CMD = 'CMD ["/bin/httpd","-f","-h","/home/html"]';
const result = {
  reference: 'alice/busy_httpd:v0.2',
  repository: 'alice/busy_httpd',
  tag: 'v0.2',
  digest: DIGEST,
  configDigest: DIGEST,
  layer: { digest: DIGEST, diffId: DIGEST, size: 300, uncompressedSize: 2048 },
  files: 3,
  bytes: 15,
};

describe('commit page', () => {
  it("commits with the seed's author, message, CMD and pause, and follows the job's event stream to the new image", async () => {
    const progress = { phase: 'layer', files: 1, totalFiles: 3, bytes: 5, totalBytes: 15 } as const;
    const s = fakeServer({
      getSession: () => ({ status: 200, body: aliceSession }),
      inspectContainer: () => ({ status: 200, body: container() }),
      commit: () => ({ status: 202, body: commitJob() }),
      jobEvents: () => ({
        status: 200,
        text: sse([
          ['status', commitJob({ state: 'active' })],
          ['progress', progress],
          ['completed', commitJob({ state: 'completed', progress: { ...progress, phase: 'done', files: 3, bytes: 15 }, result })],
        ]),
      }),
      job: () => ({ status: 200, body: commitJob({ state: 'completed', result }) }),
    });
    renderApp(`/commit?container=${CONTAINER_ID}`, s.fetch);
    await userEvent.type(await screen.findByLabelText(/^Image/), 'alice/busy_httpd:v0.2');
    await userEvent.type(screen.getByLabelText('Author (-a)'), AUTHOR);
    await userEvent.type(screen.getByLabelText('Message (-m)'), 'serve /home/html');
    // user-event reads [ and { as keys: paste the instruction as a user would.
    await userEvent.click(screen.getByLabelText(/^Changes \(-c\)/));
    await userEvent.paste(`${CMD}\n\nENV PORT=8080\n`);
    expect((screen.getByRole('checkbox', { name: /Pause the container/ }) as HTMLInputElement).checked).toBe(true);
    await userEvent.click(screen.getByRole('button', { name: 'Commit' }));

    await screen.findByText('The commit finished.');
    const post = s.sent.find((r) => r.method === 'POST')!;
    expect(post.url).toBe('/api/v1/commits');
    expect(post.body).toEqual({
      container: CONTAINER_ID,
      reference: 'alice/busy_httpd:v0.2',
      author: AUTHOR,
      message: 'serve /home/html',
      changes: [CMD, 'ENV PORT=8080'],
      pause: true,
    });
    expect(s.sent.some((r) => r.url === '/api/v1/jobs/job-1/events')).toBe(true);
    expect(screen.getByRole('progressbar').getAttribute('aria-valuenow')).toBe('100');
    expect(screen.getByRole('link', { name: 'alice/busy_httpd:v0.2' }).getAttribute('href')).toBe('/image/alice/busy_httpd:v0.2');
  });

  it('says when the server refuses the target, and leaves pause off when asked', async () => {
    const s = fakeServer({
      getSession: () => ({ status: 200, body: aliceSession }),
      inspectContainer: () => ({ status: 200, body: container() }),
      commit: () => error(403, 'DENIED', 'requested access to the resource is denied'),
    });
    renderApp(`/commit?container=${CONTAINER_ID}`, s.fetch);
    await userEvent.type(await screen.findByLabelText(/^Image/), 'bob/tools:v2');
    await userEvent.click(screen.getByRole('checkbox', { name: /Pause the container/ }));
    await userEvent.click(screen.getByRole('button', { name: 'Commit' }));
    expect((await screen.findByRole('alert')).textContent).toBe('You may not push to bob/tools:v2, or not commit this container.');
    expect((s.sent.find((r) => r.method === 'POST')!.body as { pause: boolean }).pause).toBe(false);
  });

  it("commits several containers as one batch and shows each child's progress", async () => {
    const other = 'e'.repeat(64);
    const children = [
      { id: 'job-a', reference: 'alice/a:v1' },
      { id: 'job-b', reference: 'alice/b:v1' },
    ];
    let polls = 0;
    const s = fakeServer({
      getSession: () => ({ status: 200, body: aliceSession }),
      inspectContainer: (req) => ({ status: 200, body: req.url.includes(other) ? container({ id: other, name: 'web2' }) : container() }),
      commitBatch: () => ({
        status: 202,
        body: { id: 'batch-1', children, links: { self: '/api/v1/jobs/batch-1', events: '/api/v1/jobs/batch-1/events' } },
      }),
      jobEvents: () => ({ status: 200, text: sse([['status', commitJob({ id: 'batch-1', kind: 'batch', state: 'waiting-children' })]]) }),
      job: (req) => {
        const id = req.url.split('/').pop()!;
        if (id === 'batch-1') {
          const done = polls > 2;
          return {
            status: 200,
            body: commitJob({
              id,
              kind: 'batch',
              state: done ? 'completed' : 'waiting-children',
              result: done ? { total: 2, succeeded: 2, failed: 0, items: [] } : undefined,
            }),
          };
        }
        polls++;
        const done = polls > 2;
        return {
          status: 200,
          body: commitJob({
            id,
            state: done ? 'completed' : 'active',
            progress: { phase: done ? 'done' : 'layer', files: done ? 2 : 1, totalFiles: 2, bytes: 1, totalBytes: 2 },
            result: done ? { ...result, reference: children.find((c) => c.id === id)!.reference } : undefined,
          }),
        };
      },
    });
    renderApp(`/commit?container=${CONTAINER_ID}&container=${other}`, s.fetch);
    await userEvent.type(await screen.findByLabelText(/^Image for web1/), 'alice/a:v1');
    await userEvent.type(screen.getByLabelText(/^Image for web2/), 'alice/b:v1');
    await userEvent.click(screen.getByRole('button', { name: 'Commit' }));
    const table = await screen.findByRole('table', { name: 'Each commit of the batch' });
    await waitFor(
      () =>
        expect(
          within(table)
            .getAllByRole('link')
            .map((l) => l.textContent),
        ).toEqual(['alice/a:v1', 'alice/b:v1']),
      { timeout: 4000 },
    );
    expect(
      within(table)
        .getAllByRole('progressbar')
        .map((p) => p.getAttribute('aria-valuenow')),
    ).toEqual(['100', '100']);
    const post = s.sent.find((r) => r.method === 'POST')!;
    expect(post.url).toBe('/api/v1/commits:batch');
    expect(
      (post.body as { commits: Array<{ container: string; reference: string }> }).commits.map((c) => [c.container, c.reference]),
    ).toEqual([
      [CONTAINER_ID, 'alice/a:v1'],
      [other, 'alice/b:v1'],
    ]);
    await screen.findByText('2 of 2 commits made.');
    expect(screen.getByText('The batch finished.')).toBeTruthy();
  });
});
