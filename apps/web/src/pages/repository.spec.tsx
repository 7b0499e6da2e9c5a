import { screen, within } from '@testing-library/react';
import { describe, expect, it } from 'vitest';
import { error, fakeServer } from '../fake-server';
import { images } from '../fixtures';
import { renderApp } from '../render-app';
import { pullCommands } from './repository';

describe('repository page', () => {
  it('lists the tags with a history link each, and a pull command for docker, podman, skopeo and stevedore', async () => {
    const s = fakeServer({
      getSession: () => error(401, 'UNAUTHORIZED', 'not signed in', { session: 'none' }),
      listImages: () => ({ status: 200, body: images }),
    });
    renderApp('/r/alice/busybox', s.fetch);
    const table = await screen.findByRole('table', { name: 'Tags of alice/busybox' });
    const first = within(table).getAllByRole('row')[1];
    expect(
      within(first)
        .getByRole('link', { name: /^History of / })
        .getAttribute('href'),
    ).toMatch(/^\/history\/alice\/busybox:/);
    const commands = screen
      .getAllByRole('code')
      .map((c) => c.textContent)
      .filter((t) => !t?.startsWith('sha256:'));
    expect(commands.map((c) => c?.split(' ')[0])).toEqual(['docker', 'podman', 'skopeo', 'stevedore']);
    expect(screen.getAllByRole('button', { name: /^Copy the (docker|podman|skopeo|stevedore) command$/ })).toHaveLength(4);
  });

  it('makes each client its own command line', () => {
    expect(pullCommands('reg.example:5000/alice/busybox:v1')).toEqual([
      { client: 'docker', command: 'docker pull reg.example:5000/alice/busybox:v1' },
      { client: 'podman', command: 'podman pull reg.example:5000/alice/busybox:v1' },
      { client: 'skopeo', command: 'skopeo copy docker://reg.example:5000/alice/busybox:v1 oci:busybox_v1' },
      { client: 'stevedore', command: 'stevedore pull reg.example:5000/alice/busybox:v1' },
    ]);
  });
});
