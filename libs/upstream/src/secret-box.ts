// Secrets at rest (upstream passwords): AES-256-GCM with a random 96-bit IV per value, stored as
// `v1:<iv>:<tag>:<ciphertext>` (base64url). The key comes from STEVEDORE_SECRET_KEY, else a file
// under the data dir created on first use (fine for one process; set the key for split deployments).
import { createCipheriv, createDecipheriv, createHash, randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { RegistryError } from '@stevedore/oci';

const VERSION = 'v1';

export class SecretBox {
  private readonly key: Buffer;
  constructor(key: Buffer) {
    if (key.length !== 32) throw new Error('secret key must be 32 bytes');
    this.key = key;
  }

  encrypt(plain: string): string {
    const iv = randomBytes(12);
    const cipher = createCipheriv('aes-256-gcm', this.key, iv);
    const ct = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
    return [VERSION, iv.toString('base64url'), cipher.getAuthTag().toString('base64url'), ct.toString('base64url')].join(':');
  }

  decrypt(sealed: string): string {
    const [v, iv, tag, ct] = sealed.split(':');
    if (v !== VERSION || iv === undefined || tag === undefined || ct === undefined) {
      throw new RegistryError('INTERNAL', 'stored secret has an unknown format');
    }
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.key, Buffer.from(iv, 'base64url'));
      decipher.setAuthTag(Buffer.from(tag, 'base64url'));
      return Buffer.concat([decipher.update(Buffer.from(ct, 'base64url')), decipher.final()]).toString('utf8');
    } catch {
      // Wrong key (STEVEDORE_SECRET_KEY changed) or tampered value: never fall back to anything.
      throw new RegistryError('INTERNAL', 'stored secret cannot be decrypted with the configured key');
    }
  }
}

/** 32 bytes from base64 or hex; any other string is hashed to 32 bytes (a passphrase). */
export function parseSecretKey(text: string): Buffer {
  const t = text.trim();
  if (/^[0-9a-fA-F]{64}$/.test(t)) return Buffer.from(t, 'hex');
  const b = Buffer.from(t, 'base64');
  if (b.length === 32 && /^[A-Za-z0-9+/_-]+={0,2}$/.test(t)) return b;
  return createHash('sha256').update(t, 'utf8').digest();
}

/** The configured key, or the one in `<dataDir>/secret.key` (created with mode 0600 when missing). */
export function loadSecretKey(configured: string | undefined, dataDir: string): Buffer {
  if (configured) return parseSecretKey(configured);
  const file = path.resolve(dataDir, 'secret.key');
  try {
    return parseSecretKey(readFileSync(file, 'utf8'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
  mkdirSync(path.dirname(file), { recursive: true });
  try {
    writeFileSync(file, randomBytes(32).toString('base64') + '\n', { mode: 0o600, flag: 'wx' });
  } catch (e) {
    // Another process of this deployment created it first: use theirs.
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  }
  return parseSecretKey(readFileSync(file, 'utf8'));
}
