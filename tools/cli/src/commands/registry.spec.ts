import { formatError } from '../errors';
import { pushTarget } from './registry';

const upstreams = [
  { id: 'hub', url: 'https://registry-1.docker.io', prefixes: ['docker.io'], default: true },
  { id: 'quay', url: 'https://quay.io', prefixes: ['quay.io', 'mirror/quay'] },
];

describe('push destinations', () => {
  it('maps the source name through prefixes, else the default upstream', () => {
    expect(pushTarget({ name: 'music51555/bh', tag: 'latest' }, undefined, upstreams)).toEqual({
      upstream: 'hub',
      name: 'music51555/bh',
      tag: 'latest',
    });
    expect(pushTarget({ name: 'quay.io/team/app', tag: 'v1' }, undefined, upstreams)).toEqual({
      upstream: 'quay',
      name: 'team/app',
      tag: 'v1',
    });
    expect(pushTarget({ name: 'mirror/quay/x/y', tag: 'v1' }, undefined, upstreams)).toEqual({ upstream: 'quay', name: 'x/y', tag: 'v1' });
  });

  it('takes UPSTREAM/NAME[:TAG] by id, host or prefix', () => {
    expect(pushTarget({ name: 'a', tag: 't' }, 'quay/team/a:v2', upstreams)).toEqual({ upstream: 'quay', name: 'team/a', tag: 'v2' });
    expect(pushTarget({ name: 'a', tag: 't' }, 'quay.io/team/a', upstreams)).toEqual({ upstream: 'quay', name: 'team/a', tag: 't' });
    expect(pushTarget({ name: 'a', tag: 't' }, 'docker.io/music51555/bh:v0.2', upstreams)).toEqual({
      upstream: 'hub',
      name: 'music51555/bh',
      tag: 'v0.2',
    });
    expect(pushTarget({ name: 'a', tag: 't' }, 'other/a', upstreams)).toEqual({ upstream: 'hub', name: 'other/a', tag: 't' });
  });

  it('without any upstream it says what to do', () => {
    expect(() => pushTarget({ name: 'a', tag: 't' }, undefined, [])).toThrow(/no upstream registry is configured/);
    const thrown = (() => {
      try {
        pushTarget({ name: 'a', tag: 't' }, undefined, []);
      } catch (e) {
        return e;
      }
      return undefined;
    })();
    // The one line printed names the verb that fixes it.
    expect(formatError(thrown)).toMatch(/; an admin adds one with: stevedore upstream add <url> --id ID --default/);
  });
});
