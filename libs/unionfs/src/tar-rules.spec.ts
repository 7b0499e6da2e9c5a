// The one rule set, on a tar passing through (TarCheck): unsafe entries and non-tars fail the stream
// with the reason, at once, whatever follows; a safe tar passes byte for byte.
import { Readable, Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import fc from 'fast-check';
import { rawTar } from '../test/helpers';
import { TarCheck } from './tar-rules';
import { UnsafeTarError } from './unsafe-tar-error';

async function through(input: Readable | Buffer, options = {}): Promise<{ bytes: Buffer; error?: UnsafeTarError }> {
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(c: Buffer, _e, cb) {
      chunks.push(c);
      cb();
    },
  });
  const src = Buffer.isBuffer(input) ? Readable.from([input]) : input;
  try {
    await pipeline(src, new TarCheck(options), sink);
    return { bytes: Buffer.concat(chunks) };
  } catch (e) {
    if (!(e instanceof UnsafeTarError)) throw e;
    return { bytes: Buffer.concat(chunks), error: e };
  }
}

const read = async (r: Readable) => {
  const chunks: Buffer[] = [];
  for await (const c of r) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};

describe('TarCheck', () => {
  it('passes a safe tar unchanged', async () => {
    const tar = await read(
      await rawTar([{ header: { name: 'etc/motd' }, body: 'hi\n' }, { header: { name: 'lnk', type: 'symlink', linkname: '/etc/motd' } }]),
    );
    const r = await through(tar);
    expect(r.error).toBeUndefined();
    expect(r.bytes.equals(tar)).toBe(true);
  });

  it.each([
    ['an absolute name', [{ header: { name: '/tmp/x' }, body: 'x' }], 'absolute-path'],
    ['..', [{ header: { name: 'a/../../x' }, body: 'x' }], 'parent-traversal'],
    [
      'a symlink that leaves the root',
      [{ header: { name: 'lnk', type: 'symlink' as const, linkname: '../../../../tmp' } }],
      'symlink-escape',
    ],
    [
      'a write through a symlink',
      [{ header: { name: 'lnk', type: 'symlink' as const, linkname: 'tmp' } }, { header: { name: 'lnk/file' }, body: 'x' }],
      'through-symlink',
    ],
    ['a hardlink to /etc/passwd', [{ header: { name: 'pw', type: 'link' as const, linkname: '/etc/passwd' } }], 'hardlink-escape'],
    ['a hardlink out of the archive', [{ header: { name: 'pw', type: 'link' as const, linkname: '../../etc/passwd' } }], 'hardlink-escape'],
    ['a device file', [{ header: { name: 'dev/sda', type: 'block-device' as const, devmajor: 8, devminor: 0 } }], 'device-file'],
  ])('refuses %s', async (_what, items, reason) => {
    const r = await through(await rawTar(items));
    expect(r.error?.reason).toBe(reason);
    expect(r.error?.status).toBe(400);
  });

  it('lets admins create device files', async () => {
    const r = await through(await rawTar([{ header: { name: 'dev/sda', type: 'block-device', devmajor: 8, devminor: 0 } }]), {
      allowDevices: true,
    });
    expect(r.error).toBeUndefined();
  });

  it('fails a body that is not a tar within its first header block, however long it is', async () => {
    // An endless stream of bytes: the check must fail without reading it to the end.
    let sent = 0;
    const endless = new Readable({
      read() {
        sent += 64 * 1024;
        this.push(Buffer.alloc(64 * 1024, 'A'));
      },
    });
    const r = await through(endless);
    expect(r.error?.reason).toBe('not-a-tar');
    expect(sent).toBeLessThan(4 * 2 ** 20);
    endless.destroy();
  });

  it('fails an archive that holds nothing, and one that starts with an end-of-archive block', async () => {
    expect((await through(Buffer.alloc(0))).error?.reason).toBe('empty-archive');
    expect((await through(Buffer.alloc(10_240))).error?.reason).toBe('empty-archive');
  });

  it('property: any bytes either pass as a tar with entries or fail with a reason, never hang', async () => {
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ minLength: 0, maxLength: 20_000 }), async (bytes) => {
        const r = await through(Buffer.from(bytes));
        if (r.error)
          expect(['not-a-tar', 'empty-archive', 'absolute-path', 'parent-traversal', 'unsupported-type']).toContain(r.error.reason);
      }),
      { numRuns: 200 },
    );
  });
});
