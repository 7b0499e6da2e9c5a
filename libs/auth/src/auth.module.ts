// Nest wiring of auth: the access guard every API asks (global, so each module sees it), the token
// endpoint, the users API, the browser's session, and the bootstrap admin on first start.
import { DynamicModule, Global, Inject, Logger, Module, OnModuleInit, Optional } from '@nestjs/common';
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type Redis from 'ioredis';
import { CONFIG, REDIS, RedisKeys, STORAGE, type StevedoreConfig } from '@stevedore/platform';
import type { StorageDriver } from '@stevedore/storage';
import { ACCESS_GUARD, ResourceRegistry } from '@stevedore/registry';
import { Authenticator } from './authenticator';
import { LoginLimiter } from './login-limiter';
import { TokenController } from './token.controller';
import { TokenService } from './token-service';
import { UsersController, accountNotFound } from './users.controller';
import { SessionController } from './session.controller';
import { SessionStore } from './session-store';
import { UserStore } from './user-store';

const ADMIN = 'admin';

class AdminBootstrap implements OnModuleInit {
  private readonly logger = new Logger('auth');
  constructor(
    @Inject(UserStore) private readonly users: UserStore,
    @Inject(CONFIG) private readonly config: StevedoreConfig,
  ) {}

  async onModuleInit(): Promise<void> {
    await this.users.reindexPublic();
    const existing = await this.users.get(ADMIN);
    const configured = this.config.STEVEDORE_ADMIN_PASSWORD;
    if (existing) {
      // A configured password is authoritative: rotating the secret rotates the admin (and
      // re-enables it); unchanged, nothing is written.
      if (configured && (existing.disabled || !existing.admin || !(await this.users.verify(ADMIN, configured)))) {
        await this.users.update(ADMIN, { password: configured, disabled: false, admin: true });
        this.logger.log(`the bootstrap admin "${ADMIN}" took the password from STEVEDORE_ADMIN_PASSWORD`);
      }
      return;
    }
    let password = configured;
    if (password) {
      this.logger.log(`creating the bootstrap admin "${ADMIN}" with the password from STEVEDORE_ADMIN_PASSWORD`);
    } else {
      const file = path.resolve(this.config.STEVEDORE_DATA_DIR, 'admin-password');
      password = await fs.readFile(file, 'utf8').then(
        (text) => text.trim(),
        () => undefined,
      );
      if (!password) {
        password = randomBytes(18).toString('base64url');
        await fs.mkdir(path.dirname(file), { recursive: true });
        await fs.writeFile(file, password + '\n', { mode: 0o600 });
        await fs.chmod(file, 0o600);
        this.logger.log(`created the bootstrap admin "${ADMIN}"; its generated password is in ${file} (mode 0600)`);
      } else {
        this.logger.log(`creating the bootstrap admin "${ADMIN}" with the password kept in ${file}`);
      }
    }
    await this.users.create(ADMIN, password, { admin: true }).catch((e) => {
      // Another replica created it first.
      if ((e as { code?: string }).code !== 'CONFLICT') throw e;
    });
  }
}

/** Accounts as owned resources: a user owns their own record and their robots'. */
class AccountResources implements OnModuleInit {
  constructor(
    @Inject(UserStore) private readonly users: UserStore,
    @Optional() @Inject(ResourceRegistry) private readonly registry?: ResourceRegistry,
  ) {}

  onModuleInit(): void {
    this.registry?.register('account', {
      find: async (name) => {
        const u = await this.users.get(name);
        return u ? { owner: u.robotScopes ? u.owner : u.name, repositories: [] } : undefined;
      },
      notFound: accountNotFound,
    });
    this.registry?.register('robot', {
      find: async (name) => {
        const u = await this.users.get(name);
        return u?.robotScopes ? { owner: u.owner, repositories: [] } : undefined;
      },
      notFound: (name) => accountNotFound(name),
    });
  }
}

@Global()
@Module({})
export class AuthModule {
  static forRoot(options: { api?: boolean } = { api: true }): DynamicModule {
    return {
      module: AuthModule,
      controllers: options.api ? [TokenController, UsersController, SessionController] : [],
      providers: [
        {
          provide: SessionStore,
          inject: [REDIS, RedisKeys, CONFIG],
          useFactory: (r: Redis, k: RedisKeys, c: StevedoreConfig) => new SessionStore(r, k, c.STEVEDORE_SESSION_TTL_SECONDS),
        },
        {
          provide: UserStore,
          inject: [STORAGE, REDIS, RedisKeys, SessionStore],
          useFactory: (s: StorageDriver, r: Redis, k: RedisKeys, sessions: SessionStore) => new UserStore(s, r, k, sessions),
        },
        {
          provide: TokenService,
          inject: [STORAGE, CONFIG],
          useFactory: (s: StorageDriver, c: StevedoreConfig) =>
            TokenService.create(s, c.STEVEDORE_TOKEN_TTL_SECONDS, c.STEVEDORE_TOKEN_KEY),
        },
        {
          provide: LoginLimiter,
          inject: [REDIS, RedisKeys, CONFIG],
          useFactory: (r: Redis, k: RedisKeys, c: StevedoreConfig) =>
            new LoginLimiter(r, k, c.STEVEDORE_LOGIN_MAX_FAILURES, c.STEVEDORE_LOGIN_WINDOW_SECONDS),
        },
        {
          provide: Authenticator,
          inject: [UserStore, TokenService, LoginLimiter, CONFIG, SessionStore],
          useFactory: (u: UserStore, t: TokenService, l: LoginLimiter, c: StevedoreConfig, sessions: SessionStore) =>
            new Authenticator(u, t, l, `${c.publicUrl}/auth/token`, sessions),
        },
        { provide: ACCESS_GUARD, useExisting: Authenticator },
        AdminBootstrap,
        AccountResources,
      ],
      exports: [ACCESS_GUARD, Authenticator, UserStore, TokenService],
    };
  }
}
