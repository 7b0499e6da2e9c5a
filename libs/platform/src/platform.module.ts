// The outside systems every service shares (config, Redis, storage), provided once per process.
import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import path from 'node:path';
import type Redis from 'ioredis';
import { createStorageDriver, type StorageDriver } from '@stevedore/storage';
import type { StevedoreConfig } from './config';
import { connectRedis, RedisKeys } from './redis';
import { CONFIG, REDIS, STORAGE } from './tokens';
import { HealthController } from './health.controller';

export function storageFromConfig(config: StevedoreConfig): Promise<StorageDriver> | StorageDriver {
  if (config.STEVEDORE_STORAGE === 's3') {
    return createStorageDriver({
      kind: 's3',
      endpoint: config.S3_ENDPOINT!,
      accessKey: config.S3_ACCESS_KEY!,
      secretKey: config.S3_SECRET_KEY!,
      bucket: config.S3_BUCKET,
      region: config.S3_REGION,
    });
  }
  return createStorageDriver({ kind: 'filesystem', root: path.resolve(config.STEVEDORE_DATA_DIR, 'storage') });
}

class RedisCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS) private readonly redis: Redis) {}
  async onApplicationShutdown(): Promise<void> {
    await this.redis.quit().catch(() => this.redis.disconnect());
  }
}

@Global()
@Module({})
export class PlatformModule {
  static forRoot(config: StevedoreConfig): DynamicModule {
    return {
      module: PlatformModule,
      controllers: [HealthController],
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: REDIS, useFactory: () => connectRedis(config.REDIS_URL) },
        { provide: RedisKeys, useValue: new RedisKeys(config.STEVEDORE_REDIS_PREFIX) },
        { provide: STORAGE, useFactory: () => storageFromConfig(config) },
        RedisCloser,
      ],
      exports: [CONFIG, REDIS, RedisKeys, STORAGE],
    };
  }
}
