import { parseScope, roleOf } from './admin';

describe('admin verbs', () => {
  it('reads robot scopes as REPOSITORY[:ACTIONS], pull by default', () => {
    expect(parseScope('team/*:pull,push')).toEqual({ repository: 'team/*', actions: ['pull', 'push'] });
    expect(parseScope('app')).toEqual({ repository: 'app', actions: ['pull'] });
    expect(() => parseScope('app:fly')).toThrow(/unknown action "fly"/);
    expect(() => parseScope(':pull')).toThrow(/names no repository/);
  });

  it('names an account robot, admin or user', () => {
    const base = { name: 'x', admin: false, disabled: false, robot: false, createdAt: '' };
    expect([roleOf(base), roleOf({ ...base, admin: true }), roleOf({ ...base, robot: true })]).toEqual(['user', 'admin', 'robot']);
  });
});
