import { generateKeyPairSync } from 'node:crypto';
import { SignJWT, decodeJwt, decodeProtectedHeader, exportPKCS8, generateKeyPair } from 'jose';
import { RegistryError } from '@stevedore/oci';
import type { StorageDriver } from '@stevedore/storage';
import { TokenService, loadSigningKey, passwordFingerprint, tokenCovers } from './token-service';

function memoryStorage(): StorageDriver & { files: Map<string, Buffer> } {
  const files = new Map<string, Buffer>();
  return {
    files,
    async getContent(p: string) {
      const b = files.get(p);
      if (!b) throw new RegistryError('NOT_FOUND', p);
      return b;
    },
    async putContent(p: string, c: Buffer | string) {
      files.set(p, Buffer.from(c));
    },
  } as unknown as StorageDriver & { files: Map<string, Buffer> }; // a fake with only the methods this test reaches; the rest of the interface is never called.
}

const alice = { name: 'alice', admin: false };
const access = [{ type: 'repository', name: 'alice/app', actions: ['pull'] }];

async function refused(p: Promise<unknown>): Promise<RegistryError> {
  const e = await p.then(
    () => undefined,
    (err: unknown) => err,
  );
  expect(RegistryError.is(e, 'UNAUTHORIZED')).toBe(true);
  return e as RegistryError;
}

describe('TokenService', () => {
  it('generates a key once, keeps it in storage, and a second start signs alike', async () => {
    const storage = memoryStorage();
    const a = await TokenService.create(storage, 300);
    expect([...storage.files.keys()]).toEqual(['auth/keys/token-es256.pem']);
    const b = await TokenService.create(storage, 300);
    const t = await a.issue(alice, access);
    await expect(b.verify(t.token)).resolves.toMatchObject({ sub: 'alice', access });
  });

  it('issues ES256 tokens with the registry claims and exactly the given access', async () => {
    const s = await TokenService.create(memoryStorage(), 120);
    const t = await s.issue(alice, access, 'stevedore');
    expect(t.expiresIn).toBe(120);
    const header = decodeProtectedHeader(t.token);
    expect(header).toMatchObject({ alg: 'ES256', typ: 'JWT' });
    expect(header.kid).toEqual(expect.any(String));
    const c = decodeJwt(t.token);
    expect(c).toMatchObject({ iss: 'stevedore', sub: 'alice', aud: 'stevedore', access });
    expect(c.exp! - c.iat!).toBe(120);
    expect(c.nbf).toBeLessThanOrEqual(c.iat!);
    expect(c.jti).toEqual(expect.any(String));
    expect(Object.keys(c).sort()).toEqual(['access', 'aud', 'exp', 'iat', 'iss', 'jti', 'nbf', 'sub']);
  });

  it('refuses tampered, foreign, expired, wrong-audience and unsigned tokens', async () => {
    const storage = memoryStorage();
    const s = await TokenService.create(storage, 300);
    const t = (await s.issue(alice, access)).token;
    const [h, p, sig] = t.split('.');
    const widened = Buffer.from(
      JSON.stringify({ ...decodeJwt(t), access: [{ type: 'repository', name: 'alice/app', actions: ['pull', 'push'] }] }),
    ).toString('base64url');
    expect((await refused(s.verify(`${h}.${widened}.${sig}`))).detail).toEqual({ reason: 'signature' });
    await refused(s.verify(`${h}.${p}.${sig.slice(0, -4)}AAAA`));
    const none = Buffer.from(JSON.stringify({ alg: 'none', typ: 'JWT' })).toString('base64url');
    await refused(s.verify(`${none}.${p}.`));
    await refused(s.verify('not-a-token'));

    const other = await TokenService.create(memoryStorage(), 300);
    await refused(s.verify((await other.issue(alice, access)).token));
    await refused(s.verify(t, 'another-service'));

    const key = loadSigningKey(storage.files.get('auth/keys/token-es256.pem')!.toString());
    const now = Math.floor(Date.now() / 1000);
    const expired = await new SignJWT({ access })
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('stevedore')
      .setSubject('alice')
      .setAudience('stevedore')
      .setIssuedAt(now - 600)
      .setExpirationTime(now - 300)
      .setJti('x')
      .sign(key);
    expect((await refused(s.verify(expired))).detail).toEqual({ reason: 'expired' });
    const noAccess = await new SignJWT({})
      .setProtectedHeader({ alg: 'ES256' })
      .setIssuer('stevedore')
      .setAudience('stevedore')
      .setIssuedAt(now)
      .setExpirationTime(now + 60)
      .setJti('y')
      .sign(key);
    await refused(s.verify(noAccess));
  });

  it('keeps refresh tokens apart from registry tokens and bound to the password', async () => {
    const s = await TokenService.create(memoryStorage(), 300);
    const refresh = await s.issueRefresh(alice, '$2b$10$hash-one');
    await expect(s.verifyRefresh(refresh)).resolves.toEqual({ sub: 'alice', pwd: passwordFingerprint('$2b$10$hash-one') });
    expect(passwordFingerprint('$2b$10$hash-one')).not.toBe(passwordFingerprint('$2b$10$hash-two'));
    expect(JSON.stringify(decodeJwt(refresh))).not.toContain('hash-one');
    await refused(s.verify(refresh));
    await refused(s.verifyRefresh((await s.issue(alice, access)).token));
  });

  it('takes a configured P-256 key as PKCS#8 or SEC1, with literal \\n too, and refuses others', async () => {
    const { privateKey } = await generateKeyPair('ES256', { extractable: true });
    const pkcs8 = await exportPKCS8(privateKey);
    const a = await TokenService.create(memoryStorage(), 60, pkcs8);
    const b = await TokenService.create(memoryStorage(), 60, pkcs8.replace(/\n/g, '\\n'));
    await expect(b.verify((await a.issue(alice, access)).token)).resolves.toBeTruthy();
    const sec1 = generateKeyPairSync('ec', { namedCurve: 'P-256' }).privateKey.export({ format: 'pem', type: 'sec1' }).toString();
    expect(() => loadSigningKey(sec1)).not.toThrow();
    const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
    expect(() => loadSigningKey(rsa)).toThrow('P-256');
    expect(() => loadSigningKey('garbage secret')).toThrow(/not a PEM/);
    try {
      loadSigningKey('garbage secret');
    } catch (e) {
      expect((e as Error).message).not.toContain('garbage');
    }
  });
});

describe('tokenCovers', () => {
  const claims = { access: [{ type: 'repository', name: 'a/b', actions: ['pull'] }] };
  it('covers exactly the listed repository and actions', () => {
    expect(tokenCovers(claims, { type: 'repository', name: 'a/b', actions: ['pull'] })).toBe(true);
    expect(tokenCovers(claims, { type: 'repository', name: 'a/b', actions: ['pull', 'push'] })).toBe(false);
    expect(tokenCovers(claims, { type: 'repository', name: 'a/c', actions: ['pull'] })).toBe(false);
    expect(tokenCovers(claims, { type: 'registry', name: 'a/b', actions: ['pull'] })).toBe(false);
    expect(tokenCovers({ access: [] }, { type: 'base', name: '', actions: [] })).toBe(true);
  });
});
