import { CliError, errorFromResponse, formatError } from './errors';

describe('error printing', () => {
  it('prints the envelope as one line: Error: <message> (<code>)', () => {
    const e = errorFromResponse(
      404,
      JSON.stringify({ errors: [{ code: 'MANIFEST_UNKNOWN', message: 'manifest unknown: nope:latest', detail: { x: 1 } }] }),
    );
    expect(formatError(e)).toBe('Error: manifest unknown: nope:latest (MANIFEST_UNKNOWN)');
    expect(e.status).toBe(404);
  });

  it('adds a hint for auth errors', () => {
    const e = errorFromResponse(401, JSON.stringify({ errors: [{ code: 'UNAUTHORIZED', message: 'authentication required' }] }));
    expect(formatError(e)).toBe('Error: authentication required (UNAUTHORIZED); run `stevedore login` first');
  });

  it('non-envelope answers are described by status', () => {
    expect(formatError(errorFromResponse(404, JSON.stringify({ message: 'Route GET:/api/v1/x not found', statusCode: 404 })))).toBe(
      'Error: Route GET:/api/v1/x not found (NOT_FOUND)',
    );
    expect(formatError(errorFromResponse(502, '<html>bad gateway</html>'))).toBe(
      'Error: server answered 502: <html>bad gateway</html> (UNAVAILABLE)',
    );
    expect(formatError(errorFromResponse(500, ''))).toBe('Error: server answered 500 (UNAVAILABLE)');
  });

  it('network and file errors say what to do', () => {
    const refused = Object.assign(new Error('fetch failed'), {
      cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }),
    });
    expect(formatError(refused)).toBe(
      'Error: cannot reach the Stevedore server: connect ECONNREFUSED 127.0.0.1:1 (ECONNREFUSED); check --host or STEVEDORE_HOST',
    );
    expect(formatError(Object.assign(new Error("ENOENT: no such file or directory, open 'x'"), { code: 'ENOENT' }))).toBe(
      "Error: ENOENT: no such file or directory, open 'x' (ENOENT)",
    );
    expect(formatError(new CliError('plain'))).toBe('Error: plain');
    expect(formatError('weird')).toBe('Error: weird');
  });
});
