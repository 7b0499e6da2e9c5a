import type { FastifyRequest } from 'fastify';
import { queryRepositories } from './request-query';

const req = (query: Record<string, unknown>) => ({ query }) as unknown as FastifyRequest;

describe('queryRepositories', () => {
  it("asks the actions on the repository of each given parameter's reference", () => {
    const needs = queryRepositories(['pull'], 'ref', 'from');
    expect(needs(req({ ref: 'alice/app:v1', from: 'bob/base@sha256:' + 'a'.repeat(64) }))).toEqual([
      { type: 'repository', name: 'alice/app', actions: ['pull'] },
      { type: 'repository', name: 'bob/base', actions: ['pull'] },
    ]);
    // A later parameter is optional; a tagless reference names its repository all the same.
    expect(queryRepositories(['delete'], 'ref', 'from')(req({ ref: 'alice/app', from: '' }))).toEqual([
      { type: 'repository', name: 'alice/app', actions: ['delete'] },
    ]);
  });

  it('refuses a request without the first parameter, naming it', () => {
    for (const query of [{}, { ref: '' }, { ref: ['a', 'b'] }, { from: 'alice/app' }]) {
      expect(() => queryRepositories(['pull'], 'ref', 'from')(req(query))).toThrow(
        expect.objectContaining({ code: 'INVALID_REQUEST', message: 'query parameter "ref" is required' }),
      );
    }
  });
});
