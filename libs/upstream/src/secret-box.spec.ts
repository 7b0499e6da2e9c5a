import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import fc from 'fast-check';
import { RegistryError } from '@stevedore/oci';
import { SecretBox, loadSecretKey, parseSecretKey } from './secret-box';

describe('SecretBox', () => {
  const box = new SecretBox(randomBytes(32));

  it('round-trips any string, with a fresh IV each time', () => {
    fc.assert(fc.property(fc.string({ unit: 'binary' }), (s) => expect(box.decrypt(box.encrypt(s))).toBe(s)));
    expect(box.encrypt('same')).not.toBe(box.encrypt('same'));
    expect(box.encrypt('hunter2')).not.toContain('hunter2');
  });

  it('refuses a tampered value or the wrong key', () => {
    const sealed = box.encrypt('secret');
    const parts = sealed.split(':');
    const ct = Buffer.from(parts[3], 'base64url');
    ct[0] ^= 1;
    parts[3] = ct.toString('base64url');
    expect(() => box.decrypt(parts.join(':'))).toThrow(RegistryError);
    expect(() => new SecretBox(randomBytes(32)).decrypt(sealed)).toThrow(/cannot be decrypted/);
    expect(() => box.decrypt('garbage')).toThrow(/unknown format/);
  });

  it('parses hex, base64 and passphrase keys to 32 bytes', () => {
    const k = randomBytes(32);
    expect(parseSecretKey(k.toString('hex')).equals(k)).toBe(true);
    expect(parseSecretKey(k.toString('base64')).equals(k)).toBe(true);
    expect(parseSecretKey('correct horse battery staple')).toHaveLength(32);
  });

  it('generates a key file once under the data dir (mode 0600) and reuses it', () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'secret-box-'));
    try {
      const a = loadSecretKey(undefined, dir);
      const b = loadSecretKey(undefined, dir);
      expect(a.equals(b)).toBe(true);
      expect(statSync(path.join(dir, 'secret.key')).mode & 0o777).toBe(0o600);
      expect(readFileSync(path.join(dir, 'secret.key'), 'utf8').trim()).toBe(a.toString('base64'));
      expect(loadSecretKey('x'.repeat(64).replace(/x/g, 'a'), dir).equals(Buffer.alloc(32, 0xaa))).toBe(true);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
