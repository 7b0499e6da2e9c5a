import {
  collectChange,
  formatLocalRef,
  looksLikeImageId,
  normalizeBooleanFlags,
  parseCopyEndpoint,
  parseLocalRef,
  parseServer,
  saveCompression,
} from './args';
import { CliError } from './errors';

describe('argument parsing', () => {
  it('commit -c collects each change and checks the instruction', () => {
    let list: string[] = [];
    list = collectChange('CMD ["/bin/httpd","-f","-h","/home/html"]', list);
    list = collectChange('  env A=1 ', list);
    list = collectChange('EXPOSE 80/tcp', list);
    expect(list).toEqual(['CMD ["/bin/httpd","-f","-h","/home/html"]', 'env A=1', 'EXPOSE 80/tcp']);
    expect(() => collectChange('RUN rm -rf /', [])).toThrow(/must be one of CMD, ENTRYPOINT/);
    expect(() => collectChange('CMD', [])).toThrow(/needs an argument/);
  });

  it('rewrites --pause=false as --no-pause, not after --', () => {
    expect(normalizeBooleanFlags(['commit', '--pause=false', 'c'], ['pause'])).toEqual(['commit', '--no-pause', 'c']);
    expect(normalizeBooleanFlags(['commit', '--pause=true', 'c'], ['pause'])).toEqual(['commit', '--pause', 'c']);
    expect(normalizeBooleanFlags(['x', '--', '--pause=false'], ['pause'])).toEqual(['x', '--', '--pause=false']);
    expect(normalizeBooleanFlags(['--other=false'], ['pause'])).toEqual(['--other=false']);
  });

  it('parses references as the platform names them', () => {
    expect(parseLocalRef('busy_httpd:v0.2')).toEqual({ name: 'busy_httpd', tag: 'v0.2' });
    expect(parseLocalRef('music51555/bh')).toEqual({ name: 'music51555/bh' });
    expect(parseLocalRef('music51555/bh', undefined, { defaultTag: true })).toEqual({ name: 'music51555/bh', tag: 'latest' });
    const d = 'sha256:' + 'a'.repeat(64);
    expect(parseLocalRef(`team/app@${d}`)).toEqual({ name: 'team/app', digest: d });
    expect(parseLocalRef(`team/app:v1@${d}`)).toEqual({ name: 'team/app', tag: 'v1', digest: d });
    expect(parseLocalRef('127.0.0.1:5000/team/app:v1', '127.0.0.1:5000')).toEqual({ name: 'team/app', tag: 'v1' });
    expect(formatLocalRef({ name: 'a/b', tag: 't' })).toBe('a/b:t');
    expect(() => parseLocalRef('Upper/Case')).toThrow(CliError);
    expect(() => parseLocalRef('app:bad tag')).toThrow(/invalid tag/);
    expect(() => parseLocalRef('app@sha256:xyz')).toThrow(/invalid digest/);
    expect(() => parseLocalRef('')).toThrow(/must not be empty/);
  });

  it('recognises image IDs', () => {
    expect(looksLikeImageId('87f8dd508d21')).toBe(true);
    expect(looksLikeImageId('sha256:' + 'b'.repeat(64))).toBe(true);
    expect(looksLikeImageId('busybox')).toBe(false);
    expect(looksLikeImageId('87f8d')).toBe(false);
  });

  it('cp endpoints: NAME:PATH is a container, paths are local', () => {
    expect(parseCopyEndpoint('bh:/home/html/index.html')).toEqual({ container: 'bh', path: '/home/html/index.html' });
    expect(parseCopyEndpoint('./a:b')).toEqual({ path: './a:b' });
    expect(parseCopyEndpoint('/tmp/x:y')).toEqual({ path: '/tmp/x:y' });
    expect(parseCopyEndpoint('file.txt')).toEqual({ path: 'file.txt' });
    expect(() => parseCopyEndpoint('bh:')).toThrow(/no path after/);
  });

  it('server addresses: URL or host:port, keyed host:port', () => {
    expect(parseServer('http://127.0.0.1:5000/')).toEqual({ url: 'http://127.0.0.1:5000', key: '127.0.0.1:5000' });
    expect(parseServer('localhost:5000')).toEqual({ url: 'http://localhost:5000', key: 'localhost:5000' });
    expect(parseServer('registry.example.com')).toEqual({ url: 'https://registry.example.com', key: 'registry.example.com' });
    expect(() => parseServer('ftp://x')).toThrow(/unsupported scheme/);
    expect(() => parseServer('http://u:p@x')).toThrow(/credentials/);
  });

  it('save compression by the file suffix or --compress; an unknown suffix or a contradiction is refused', () => {
    expect(saveCompression('bh.gz')).toBe('gzip');
    expect(saveCompression('out/bh.TGZ')).toBe('gzip');
    expect(saveCompression('bh.tar.zst')).toBe('zstd');
    expect(saveCompression('bh.tzst')).toBe('zstd');
    expect(saveCompression('bh.tar')).toBe('none');
    expect(saveCompression('bh')).toBe('none');
    expect(saveCompression(undefined)).toBe('none');
    expect(saveCompression(undefined, { compress: 'zstd' })).toBe('zstd');
    expect(saveCompression('bh.tar', { gzip: true })).toBe('gzip');
    expect(saveCompression('bh.img', { compress: 'zstd' })).toBe('zstd');
    expect(() => saveCompression('bh.tar.xz')).toThrow(/cannot tell the compression from bh\.tar\.xz/);
    let refused: unknown;
    try {
      saveCompression('bh.zip');
    } catch (e) {
      refused = e;
    }
    expect(refused).toMatchObject({ code: 'INVALID_ARGUMENT', hint: expect.stringContaining('--compress none|gzip|zstd') });
    expect(() => saveCompression('bh.gz', { compress: 'zstd' })).toThrow(/names gzip compression but zstd/);
    expect(() => saveCompression('bh', { compress: 'bzip2' })).toThrow(/must be none, gzip or zstd/);
    expect(() => saveCompression('bh', { compress: 'zstd', gzip: true })).toThrow(/contradicts/);
  });
});
