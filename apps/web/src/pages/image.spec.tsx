import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { error, fakeServer } from '../fake-server';
import { DIGEST, history, inspect } from '../fixtures';
import { renderApp } from '../render-app';
import { cellTexts } from '../test-table';

describe('image page', () => {
  it('shows the config as inspect does (Cmd, Author) and each layer with its sizes, empty layers marked', async () => {
    const s = fakeServer({
      getSession: () => error(401, 'UNAUTHORIZED', 'not signed in', { session: 'none' }),
      inspectImage: () => ({ status: 200, body: inspect }),
      imageHistory: () => ({ status: 200, body: history }),
      imageReferrers: () => ({ status: 200, body: { repository: 'alice/busybox', subject: DIGEST, referrers: [] } }),
    });
    renderApp('/image/alice/busybox:v1', s.fetch);
    expect(await screen.findByRole('heading', { level: 2, name: 'Configuration' })).toBeTruthy();
    const facts = screen.getByRole('heading', { level: 2, name: 'Configuration' }).nextElementSibling as HTMLElement;
    const value = (term: string) => within(facts).getByText(term).nextElementSibling?.textContent;
    expect(value('Cmd')).toBe('["/bin/httpd","-f","-h","/home/html"]');
    expect(value('Author')).toBe('Jane Doe <jane@example.com>');
    expect(value('WorkingDir')).toBe('/home');
    expect(value('User')).toBe('—');
    expect(cellTexts(screen.getAllByRole('table')[0])).toEqual([
      ['1', '/bin/sh -c #(nop) ADD file:rootfs in /', 'sha256:cdcdcdcdcdcd', '4.5 MB', '2.3 MB', '2025-12-01 08:58:20 UTC'],
      ['2', '/bin/sh -c #(nop) CMD ["/bin/httpd"]', 'empty layer', '—', '—', '2025-12-01 09:00:00 UTC'],
    ]);
    expect(s.sent.map((r) => r.url)).toContain('/api/v1/images/inspect?ref=alice%2Fbusybox%3Av1');
    expect(screen.getByRole('link', { name: 'alice/busybox' }).getAttribute('href')).toBe('/r/alice/busybox');
  });

  it('lists the signatures and SBOMs that name the image, with their artifact types', async () => {
    const sig = 'sha256:' + '1'.repeat(64);
    const sbom = 'sha256:' + '2'.repeat(64);
    const s = fakeServer({
      getSession: () => error(401, 'UNAUTHORIZED', 'not signed in', { session: 'none' }),
      inspectImage: () => ({ status: 200, body: inspect }),
      imageHistory: () => ({ status: 200, body: history }),
      imageReferrers: () => ({
        status: 200,
        body: {
          repository: 'alice/busybox',
          subject: DIGEST,
          referrers: [
            {
              mediaType: 'application/vnd.oci.image.manifest.v1+json',
              digest: sig,
              size: 712,
              artifactType: 'application/vnd.dev.cosign.artifact.sig.v1+json',
            },
            { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: sbom, size: 1500, artifactType: 'application/spdx+json' },
          ],
        },
      }),
    });
    renderApp('/image/alice/busybox:v1', s.fetch);
    const table = await screen.findByRole('table', { name: 'Artifacts that name this image as their subject' });
    expect(cellTexts(table)).toEqual([
      ['signature', 'application/vnd.dev.cosign.artifact.sig.v1+json', 'sha256:111111111111', '712 B'],
      ['SBOM', 'application/spdx+json', 'sha256:222222222222', '1.5 KB'],
    ]);
    expect(within(table).getByRole('link', { name: 'sha256:222222222222' }).getAttribute('href')).toBe(`/image/alice/busybox@${sbom}`);
    expect(s.sent.map((r) => r.url)).toContain('/api/v1/images/referrers?ref=alice%2Fbusybox%3Av1');
  });

  it('says the image is not there (or not yours) without showing anything of it', async () => {
    const s = fakeServer({
      getSession: () => error(401, 'UNAUTHORIZED', 'not signed in', { session: 'none' }),
      inspectImage: () => error(401, 'UNAUTHORIZED', 'authentication required'),
    });
    renderApp('/image/alice/private:v1', s.fetch);
    expect((await screen.findByRole('alert')).textContent).toBe('There is no such image, or you may not see it.');
  });
});
