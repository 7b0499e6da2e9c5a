import fc from 'fast-check';
import { ANONYMOUS, grantedActions, parseScope, type Principal } from './principal';

const alice = { name: 'alice', admin: false };
const repo = (name: string, actions: string[]) => ({ type: 'repository' as const, name, actions });

describe('grantedActions', () => {
  it('gives a user everything in their namespace and nothing in another private one', () => {
    expect(grantedActions(alice, repo('alice/app', ['pull', 'push']), false)).toEqual(['pull', 'push']);
    expect(grantedActions(alice, repo('alice/app', ['delete']), false)).toEqual(['delete']);
    expect(grantedActions(alice, repo('bob/app', ['pull', 'push']), false)).toEqual([]);
    expect(grantedActions(alice, repo('alicex/app', ['pull']), false)).toEqual([]);
  });

  it('lets anyone pull a public repository, and nobody anonymous push', () => {
    expect(grantedActions(ANONYMOUS, repo('bob/app', ['pull', 'push']), true)).toEqual(['pull']);
    expect(grantedActions(ANONYMOUS, repo('bob/app', ['pull']), false)).toEqual([]);
    expect(grantedActions(alice, repo('bob/app', ['pull', 'push']), true)).toEqual(['pull']);
  });

  it('grants robots only their scopes', () => {
    const robot: Principal = {
      name: 'ci',
      admin: false,
      robotScopes: [
        { repository: 'team/*', actions: ['pull', 'push'] },
        { repository: 'ops/tool', actions: ['pull'] },
      ],
    };
    expect(grantedActions(robot, repo('team/a', ['pull', 'push', 'delete']), false)).toEqual(['pull', 'push']);
    expect(grantedActions(robot, repo('ops/tool', ['pull', 'push']), false)).toEqual(['pull']);
    expect(grantedActions(robot, repo('ci/own', ['pull']), false)).toEqual([]);
  });

  it('keeps the catalog and admin areas for admins', () => {
    const catalog = { type: 'registry' as const, name: 'catalog', actions: ['*'] };
    expect(grantedActions(alice, catalog, true)).toEqual([]);
    expect(grantedActions({ name: 'root', admin: true }, catalog, false)).toEqual(['*']);
  });

  it('never grants more than was asked, and never push to anonymous', () => {
    fc.assert(
      fc.property(
        fc.subarray(['pull', 'push', 'delete', '*']),
        fc.boolean(),
        fc.string({ minLength: 1, maxLength: 8 }),
        (actions, pub, ns) => {
          for (const p of [alice, ANONYMOUS, { name: 'x', admin: true }]) {
            const g = grantedActions(p, repo(`${ns}/r`, actions), pub);
            expect(g.every((a) => actions.includes(a))).toBe(true);
            if (p === ANONYMOUS) expect(g.includes('push')).toBe(false);
          }
        },
      ),
    );
  });
});

describe('parseScope', () => {
  it('reads repository scopes with names containing slashes and ports', () => {
    expect(parseScope('repository:alice/app:pull,push')).toEqual(repo('alice/app', ['pull', 'push']));
    expect(parseScope('registry:catalog:*')).toEqual({ type: 'registry', name: 'catalog', actions: ['*'] });
    expect(parseScope('repository:a')).toBeUndefined();
    expect(parseScope('bogus:a:pull')).toBeUndefined();
  });
});
