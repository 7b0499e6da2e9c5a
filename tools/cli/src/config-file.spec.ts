import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync, chmodSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  configPath,
  decodeAuth,
  encodeAuth,
  getCredentials,
  readConfig,
  removeCredentials,
  setCredentials,
  tooOpen,
  writeConfig,
} from './config-file';
import { CliError } from './errors';

describe('config.json', () => {
  let dir: string;
  beforeEach(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'stevedore-cfg-'))));
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it('is $STEVEDORE_CONFIG or ~/.stevedore/config.json', () => {
    expect(configPath({ STEVEDORE_CONFIG: '/x/c.json' })).toBe('/x/c.json');
    expect(configPath({})).toBe(path.join(os.homedir(), '.stevedore', 'config.json'));
  });

  it('stores auths as Docker does, base64(user:pass), with mode 0600 in a new 0700 directory', () => {
    const file = path.join(dir, 'sub', 'config.json');
    const old = process.umask(0o022);
    try {
      writeConfig(file, setCredentials({}, '127.0.0.1:5000', { username: 'alice', password: 'p:ss wörd' }));
    } finally {
      process.umask(old);
    }
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(statSync(path.dirname(file)).mode & 0o777).toBe(0o700);
    const json = JSON.parse(readFileSync(file, 'utf8'));
    expect(json).toEqual({ auths: { '127.0.0.1:5000': { auth: Buffer.from('alice:p:ss wörd').toString('base64') } } });
    expect(getCredentials(readConfig(file), '127.0.0.1:5000')).toEqual({ username: 'alice', password: 'p:ss wörd' });
    expect(getCredentials(readConfig(file), 'other:5000')).toBeUndefined();
  });

  it('keeps other servers and unknown keys, and makes a loose file 0600 again on write', () => {
    const file = path.join(dir, 'config.json');
    writeFileSync(
      file,
      JSON.stringify({ auths: { 'a:1': { auth: encodeAuth({ username: 'a', password: 'b' }), email: 'x' } }, credsStore: 'none' }),
      { mode: 0o644 },
    );
    chmodSync(file, 0o644);
    expect(tooOpen(file)).toBe(true);
    writeConfig(file, setCredentials(readConfig(file), 'b:2', { username: 'c', password: 'd' }));
    const json = readConfig(file);
    expect(json['credsStore']).toBe('none');
    expect(json.auths?.['a:1']).toEqual({ auth: encodeAuth({ username: 'a', password: 'b' }), email: 'x' });
    expect(getCredentials(json, 'b:2')).toEqual({ username: 'c', password: 'd' });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(tooOpen(file)).toBe(false);
  });

  it('logout removes one entry and says whether there was one', () => {
    const cfg = setCredentials(setCredentials({}, 'a:1', { username: 'u', password: 'p' }), 'b:2', { username: 'v', password: 'q' });
    const r = removeCredentials(cfg, 'a:1');
    expect(r.removed).toBe(true);
    expect(Object.keys(r.config.auths ?? {})).toEqual(['b:2']);
    expect(removeCredentials(r.config, 'a:1').removed).toBe(false);
  });

  it('a missing or empty file is an empty config; invalid JSON is a clear error', () => {
    expect(readConfig(path.join(dir, 'none.json'))).toEqual({});
    const file = path.join(dir, 'bad.json');
    writeFileSync(file, '{nope');
    expect(() => readConfig(file)).toThrow(CliError);
    expect(() => readConfig(file)).toThrow(/not valid JSON/);
  });

  it('decodes only user:pass', () => {
    expect(decodeAuth(Buffer.from('nocolon').toString('base64'))).toBeUndefined();
    expect(decodeAuth(Buffer.from('u:').toString('base64'))).toEqual({ username: 'u', password: '' });
  });
});
