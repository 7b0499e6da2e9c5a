// Users, robots and public repositories. Storage holds them durably (`auth/...` objects); Redis
// only caches, so losing Redis loses nothing. Passwords are bcrypt hashes; secrets never leave.
import type { User } from '@stevedore/api-contract';
import { AuthPaths, authKeys } from './auth-layout';
import bcrypt from 'bcryptjs';
import type Redis from 'ioredis';
import { RegistryError, assertRepositoryName } from '@stevedore/oci';
import { RedisKeys, unlessRedisUnavailable } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import type { Principal, RobotScope } from './principal';
import type { SessionStore } from './session-store';

export interface UserRecord {
  name: string;
  passwordHash: string;
  admin: boolean;
  disabled: boolean;
  robotScopes?: RobotScope[];
  /** A robot's owner (the user who created it); admins' robots made before owners existed have none. */
  owner?: string;
  createdAt: string;
}

/** An account as the API shows it (the contract's User): never the password hash. */
export type UserView = User;

const USER_NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
const BCRYPT_COST = 10;
const CACHE_SECONDS = 60;
// A member no repository can be named: present once the set was built from storage.
const PUBLIC_INDEXED = '#indexed';
// Compared against for unknown users, so the time to answer does not tell who exists.
const DUMMY_HASH = bcrypt.hashSync('stevedore-no-such-user', BCRYPT_COST);

export function viewOf(u: UserRecord): UserView {
  const v: UserView = {
    name: u.name,
    admin: u.admin,
    disabled: u.disabled,
    robot: !!u.robotScopes,
    robotScopes: u.robotScopes,
    createdAt: u.createdAt,
  };
  if (u.owner) v.owner = u.owner;
  return v;
}

export class UserStore {
  constructor(
    private readonly storage: StorageDriver,
    private readonly redis: Redis,
    private readonly keys: RedisKeys,
    /** Ended when an account's password changes or it is disabled or removed. */
    private readonly sessions?: SessionStore,
  ) {}

  private userKey(name: string): string {
    return AuthPaths.user(name);
  }
  private cacheKey(name: string): string {
    return authKeys(this.keys).user(name);
  }

  static checkName(name: string): void {
    if (typeof name !== 'string' || name.length < 2 || name.length > 64 || !USER_NAME.test(name)) {
      throw new RegistryError('INVALID_REQUEST', 'user names are 2-64 characters of a-z, 0-9 and . _ - between them', {
        name: String(name).slice(0, 64),
      });
    }
  }

  static checkPassword(password: string): void {
    // bcrypt reads only the first 72 bytes: longer passwords would silently share a hash.
    if (typeof password !== 'string' || password.length < 8 || Buffer.byteLength(password) > 72) {
      throw new RegistryError('INVALID_REQUEST', 'passwords are 8 characters to 72 bytes');
    }
  }

  async get(name: string): Promise<UserRecord | undefined> {
    if (!USER_NAME.test(name) || name.length > 64) return undefined;
    // Redis only caches storage's record: while it cannot answer, storage does (a pull goes on).
    const cached = await unlessRedisUnavailable(this.redis.get(this.cacheKey(name)), () => undefined);
    if (cached) return JSON.parse(cached) as UserRecord;
    const raw = await this.storage.getContent(this.userKey(name)).catch(() => undefined);
    if (!raw) return undefined;
    await unlessRedisUnavailable(this.redis.set(this.cacheKey(name), raw.toString(), 'EX', CACHE_SECONDS), () => undefined);
    return JSON.parse(raw.toString()) as UserRecord;
  }

  private async save(u: UserRecord): Promise<void> {
    await this.storage.putContent(this.userKey(u.name), JSON.stringify(u));
    await this.redis.del(this.cacheKey(u.name));
  }

  async create(
    name: string,
    password: string,
    options: { admin?: boolean; robotScopes?: RobotScope[]; owner?: string } = {},
  ): Promise<UserRecord> {
    UserStore.checkName(name);
    UserStore.checkPassword(password);
    if (await this.get(name)) throw new RegistryError('CONFLICT', `user ${name} exists`, { name });
    const u: UserRecord = {
      name,
      passwordHash: await bcrypt.hash(password, BCRYPT_COST),
      admin: !!options.admin,
      disabled: false,
      robotScopes: options.robotScopes,
      createdAt: new Date().toISOString(),
    };
    if (options.owner) u.owner = options.owner;
    await this.save(u);
    return u;
  }

  async update(name: string, change: { password?: string; disabled?: boolean; admin?: boolean }): Promise<UserRecord> {
    const u = await this.get(name);
    if (!u) throw new RegistryError('NOT_FOUND', `no user ${name}`, { name });
    if (change.password !== undefined) {
      UserStore.checkPassword(change.password);
      u.passwordHash = await bcrypt.hash(change.password, BCRYPT_COST);
    }
    if (change.disabled !== undefined) u.disabled = change.disabled;
    if (change.admin !== undefined) u.admin = change.admin;
    await this.save(u);
    // After the save: a session checked in between already sees the new record and fails.
    if (change.password !== undefined || change.disabled === true) await this.sessions?.revokeAll(name);
    return u;
  }

  async list(): Promise<UserRecord[]> {
    const out: UserRecord[] = [];
    for await (const f of this.storage.list(AuthPaths.usersRoot)) {
      const name = AuthPaths.userOf(f.path);
      const u = name ? await this.get(name) : undefined;
      if (u) out.push(u);
    }
    return out.sort((a, b) => a.name.localeCompare(b.name));
  }

  /** The record for valid, enabled credentials; undefined otherwise (no hint which part was wrong). */
  async verify(name: string, password: string): Promise<UserRecord | undefined> {
    const u = await this.get(name);
    const ok = await bcrypt.compare(password, u?.passwordHash ?? DUMMY_HASH);
    // bcrypt would ignore bytes past 72: such a password matches no account.
    if (!u || !ok || u.disabled || Buffer.byteLength(password) > 72) return undefined;
    return u;
  }

  /** Remove an account (robots: revoking them); its tokens stop working at their next use. */
  async remove(name: string): Promise<void> {
    if (!(await this.get(name))) throw new RegistryError('NOT_FOUND', `no user ${name}`, { name });
    await this.storage.delete(this.userKey(name));
    await this.redis.del(this.cacheKey(name));
    await this.sessions?.revokeAll(name);
  }

  principalOf(u: UserRecord): Principal {
    const p: Principal = { name: u.name, admin: u.admin, robotScopes: u.robotScopes };
    if (u.owner) p.owner = u.owner;
    return p;
  }

  // Public repositories: one storage object each, mirrored into a Redis set read on every pull.
  private publicKey(): string {
    return authKeys(this.keys).public();
  }

  async setPublic(repository: string, isPublic: boolean): Promise<void> {
    assertRepositoryName(repository);
    const key = AuthPaths.publicFlag(repository);
    // Storage first: it is the truth, and the set is rebuilt from it.
    if (isPublic) {
      await this.storage.putContent(key, '1');
      await this.redis.sadd(this.publicKey(), repository);
    } else {
      await this.storage.delete(key).catch((e: unknown) => {
        if (!RegistryError.is(e, 'NOT_FOUND')) throw e;
      });
      await this.redis.srem(this.publicKey(), repository);
    }
  }

  async isPublic(repository: string): Promise<boolean> {
    // The set indexes storage's flags: while Redis cannot answer, the flag itself does.
    const flags = await unlessRedisUnavailable(this.redis.smismember(this.publicKey(), repository, PUBLIC_INDEXED), () => undefined);
    if (!flags) return (await this.storage.stat(AuthPaths.publicFlag(repository))) !== undefined;
    const [member, indexed] = flags;
    if (indexed) return member === 1;
    // Redis lost the set (restart, outage): rebuild it from storage rather than answer "private" forever.
    await this.reindexPublic();
    return (await this.redis.sismember(this.publicKey(), repository)) === 1;
  }

  /** Rebuild the public set from storage (at start, and after Redis was lost). */
  async reindexPublic(): Promise<number> {
    let n = 0;
    for await (const f of this.storage.list(AuthPaths.publicRoot)) {
      const repository = AuthPaths.publicOf(f.path);
      if (repository) {
        await this.redis.sadd(this.publicKey(), repository);
        n++;
      }
    }
    await this.redis.sadd(this.publicKey(), PUBLIC_INDEXED);
    return n;
  }
}
