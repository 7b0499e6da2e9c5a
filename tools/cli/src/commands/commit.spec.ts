import { commitSpec, imageIdOf, parseBatchFile } from './commit';
import { run } from '../main';
import { Context } from '../context';
import { PassThrough } from 'node:stream';

function io() {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = '';
  let err = '';
  stdout.on('data', (b) => (out += b));
  stderr.on('data', (b) => (err += b));
  return {
    io: { stdout, stderr, stdin: new PassThrough(), env: { STEVEDORE_CONFIG: '/nonexistent/config.json' } },
    out: () => out,
    err: () => err,
  };
}

describe('commit arguments', () => {
  it('builds the spec docker commit would send', () => {
    expect(commitSpec('bh', 'busy_httpd:v0.2', { author: 'alex <452427904@qq.com>', change: ['CMD ["/bin/httpd"]'], pause: true })).toEqual(
      {
        container: 'bh',
        reference: 'busy_httpd:v0.2',
        author: 'alex <452427904@qq.com>',
        changes: ['CMD ["/bin/httpd"]'],
        pause: true,
      },
    );
    expect(commitSpec('bh', 'app', {})).toEqual({ container: 'bh', reference: 'app:latest', pause: true });
    // The server names every commit: without a target there is nothing to send.
    expect(() => commitSpec('bh', undefined, { pause: false })).toThrow(/needs a REPOSITORY\[:TAG\]/);
  });

  it('reads batch files', () => {
    const specs = parseBatchFile(
      JSON.stringify([
        { container: 'c1', reference: 'app:v1', changes: ['ENV A=1'] },
        { container: 'c2', repository: 'app', tag: 'v2', pause: false },
      ]),
    );
    expect(specs).toEqual([
      { container: 'c1', reference: 'app:v1', changes: ['ENV A=1'], pause: true },
      { container: 'c2', reference: 'app:v2', pause: false },
    ]);
    expect(parseBatchFile(JSON.stringify({ commits: [{ container: 'c', reference: 'app' }] }))).toEqual([
      { container: 'c', reference: 'app:latest', pause: true },
    ]);
    expect(() => parseBatchFile(JSON.stringify([{ container: 'c' }]))).toThrow(/needs a REPOSITORY/);
    expect(() => parseBatchFile('[{"reference": "x"}]')).toThrow(/invalid at 0.container/);
    expect(() => parseBatchFile('nope')).toThrow(/not JSON/);
    expect(() => parseBatchFile('[]')).toThrow(/no commits/);
    expect(() => parseBatchFile('[{"container":"c","reference":"a","changes":["RUN x"]}]')).toThrow(/must be one of/);
  });

  it('finds the image id in a result', () => {
    // The server's CommitResult: the image ID is the config digest, never the manifest digest.
    const result = { reference: 'r:t', repository: 'r', tag: 't', digest: 'sha256:b', configDigest: 'sha256:c', files: 0, bytes: 0 };
    expect(imageIdOf(result)).toBe('sha256:c');
    expect(imageIdOf({ total: 0, succeeded: 0, failed: 0, items: [] })).toBeUndefined();
    expect(imageIdOf(undefined)).toBeUndefined();
  });

  describe('command line (the seed: commit -a ... -c ... -p bh busy_httpd:v0.2)', () => {
    const commit = jest.fn();
    beforeEach(() => {
      commit
        .mockReset()
        .mockResolvedValue({ id: 'job-1', state: 'completed', result: { digest: 'sha256:manifest', configDigest: 'sha256:new' } });
      jest.spyOn(Context.prototype, 'api', 'get').mockReturnValue({ commit } as never);
    });
    afterEach(() => jest.restoreAllMocks());

    it('-p is a flag, not an option taking the container', async () => {
      const t = io();
      const code = await run(
        ['commit', '-a', 'alex <452427904@qq.com>', '-c', 'CMD ["/bin/httpd","-f","-h","/home/html"]', '-p', 'bh', 'busy_httpd:v0.2'],
        t.io,
      );
      expect(t.err()).toBe('');
      expect(code).toBe(0);
      expect(commit).toHaveBeenCalledWith({
        container: 'bh',
        reference: 'busy_httpd:v0.2',
        author: 'alex <452427904@qq.com>',
        changes: ['CMD ["/bin/httpd","-f","-h","/home/html"]'],
        pause: true,
      });
      expect(t.out()).toBe('sha256:new\n');
    });

    it('--pause=false and repeated -c', async () => {
      const t = io();
      expect(await run(['commit', '--pause=false', '-c', 'ENV A=1', '-c', 'EXPOSE 80', '-m', 'msg', 'bh', 'app:v1'], t.io)).toBe(0);
      expect(commit).toHaveBeenCalledWith({
        container: 'bh',
        reference: 'app:v1',
        message: 'msg',
        changes: ['ENV A=1', 'EXPOSE 80'],
        pause: false,
      });
    });

    it('a bad -c is one error line and exit 1, before any request', async () => {
      const t = io();
      expect(await run(['commit', '-c', 'RUN echo', 'bh', 'app:v1'], t.io)).toBe(1);
      expect(t.err()).toMatch(/^Error: invalid change "RUN echo": the instruction must be one of .*\(INVALID_CHANGE\)/);
      expect(t.err().trim().split('\n')).toHaveLength(1);
      expect(commit).not.toHaveBeenCalled();
    });

    it('--detach prints the job id', async () => {
      commit.mockResolvedValue({ id: 'job-9', state: 'waiting' });
      const t = io();
      expect(await run(['commit', '-d', 'bh', 'app:v1'], t.io)).toBe(0);
      expect(t.out()).toBe('job-9\n');
    });
  });
});
