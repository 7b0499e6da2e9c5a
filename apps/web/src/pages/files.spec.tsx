import { screen } from '@testing-library/react';
import userEvent from '@testing-library/user-event';
import { describe, expect, it } from 'vitest';
import type { ImageBrowse } from '@stevedore/api-contract';
import { error, fakeServer } from '../fake-server';
import { renderApp } from '../render-app';
import { cellTexts } from '../test-table';

const L = (c: string) => `sha256:${c.repeat(64)}`;
const e = (path: string, type: 'file' | 'directory', layer: number | null, shadows: number[], size = 0) => ({
  path,
  type,
  mode: type === 'directory' ? 0o755 : 0o644,
  uid: 0,
  gid: 0,
  mtime: 0,
  size,
  layer,
  shadows,
});

function answer(path: string): ImageBrowse {
  const base = { repository: 'alice/busybox', manifestDigest: L('e'), layers: [L('a'), L('b')] };
  if (path === '/') return { ...base, entry: e('', 'directory', null, []), children: [e('etc', 'directory', 1, [0])] };
  if (path === '/etc')
    return {
      ...base,
      entry: e('etc', 'directory', 1, [0]),
      children: [e('etc/motd', 'file', 1, [0], 17), e('etc/passwd', 'file', 0, [], 512)],
    };
  return { ...base, entry: e('etc/motd', 'file', 1, [0], 17), children: [] };
}

describe('files page', () => {
  it("browses an image's union filesystem and names the layer each entry comes from and what it shadows", async () => {
    const s = fakeServer({
      getSession: () => error(401, 'UNAUTHORIZED', 'not signed in', { session: 'none' }),
      browseImage: (req) => ({ status: 200, body: answer(new URL(req.url, 'http://x').searchParams.get('path') ?? '/') }),
    });
    renderApp('/files/alice/busybox:v1', s.fetch);
    await userEvent.click(await screen.findByRole('link', { name: 'etc' }));
    const table = await screen.findByRole('table', { name: 'Entries of /etc' });
    expect(cellTexts(table)).toEqual([
      ['motd', 'file', '17 B', '0644', 'layer 2', 'layer 1'],
      ['passwd', 'file', '512 B', '0644', 'layer 1', '—'],
    ]);
    await userEvent.click(screen.getByRole('link', { name: 'motd' }));
    expect(await screen.findByText('A file from layer 2, shadowing layer 1.')).toBeTruthy();
    const download = screen.getByRole('link', { name: 'Download motd (17 B)' });
    expect(download.getAttribute('href')).toBe('/api/v1/images/file?ref=alice%2Fbusybox%3Av1&path=%2Fetc%2Fmotd');
    expect(download.hasAttribute('download')).toBe(true);
    expect(s.sent.map((r) => r.url)).toContain('/api/v1/images/fs?ref=alice%2Fbusybox%3Av1&path=%2Fetc%2Fmotd');
  });

  it('says when a path is not in the image', async () => {
    const s = fakeServer({
      getSession: () => error(401, 'UNAUTHORIZED', 'not signed in', { session: 'none' }),
      browseImage: () => error(404, 'NOT_FOUND', 'no such file or directory'),
    });
    renderApp('/files/alice/busybox:v1?path=%2Fetc%2Fhosts', s.fetch);
    expect((await screen.findByRole('alert')).textContent).toBe(
      'There is no /etc/hosts in this image (or it was deleted by a later layer).',
    );
  });
});
