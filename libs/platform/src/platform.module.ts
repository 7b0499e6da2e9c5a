// The outside systems every service shares (config, Redis, storage), provided once per process.
import { DynamicModule, Global, Inject, Module, OnApplicationShutdown } from '@nestjs/common';
import path from 'node:path';
import type Redis from 'ioredis';
import { createStorageDriver, type StorageDriver } from '@stevedore/storage';
import type { StevedoreConfig } from './config';
import { closeWithin, connectRedis, isRedisCluster, RedisKeys } from './redis';
import { Logger } from '@nestjs/common';

const logger = new Logger('redis');
import { CONFIG, REDIS, STORAGE } from './tokens';
import { TerminusModule } from '@nestjs/terminus';
import { HealthController, ReadinessChecks } from './health.controller';
import { MetricsController } from './metrics.controller';
import { StevedoreMetrics } from './metrics';
import { instrumentStorage } from './instrumented-storage';

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
    // QUIT waits for an answer a dead Redis never gives.
    await closeWithin(
      1000,
      () => this.redis.quit(),
      () => this.redis.disconnect(),
    );
  }
}

@Global()
@Module({})
export class PlatformModule {
  static forRoot(config: StevedoreConfig): DynamicModule {
    return {
      module: PlatformModule,
      imports: [TerminusModule.forRoot({ logger: false })],
      controllers: [HealthController, MetricsController],
      providers: [
        { provide: CONFIG, useValue: config },
        { provide: StevedoreMetrics, useValue: new StevedoreMetrics(config.STEVEDORE_TARGET) },
        {
          provide: REDIS,
          inject: [StevedoreMetrics],
          useFactory: async (metrics: StevedoreMetrics) => {
            const redis = await connectRedis(config.REDIS_URL, {
              commandTimeoutMs: config.STEVEDORE_REDIS_COMMAND_TIMEOUT_MS,
              log: (m) => logger.warn(m),
            });
            metrics.onScrape(async () => {
              const t = process.hrtime.bigint();
              await redis.ping();
              metrics.dependencyRtt.set({ dependency: 'redis' }, Number(process.hrtime.bigint() - t) / 1e9);
            });
            return redis;
          },
        },
        { provide: RedisKeys, useValue: new RedisKeys(config.STEVEDORE_REDIS_PREFIX, isRedisCluster(config.REDIS_URL)) },
        {
          provide: STORAGE,
          inject: [StevedoreMetrics],
          useFactory: async (metrics: StevedoreMetrics) => {
            const storage = instrumentStorage(await storageFromConfig(config), metrics);
            metrics.onScrape(async () => {
              const t = process.hrtime.bigint();
              await storage.stat('readyz-probe');
              metrics.dependencyRtt.set({ dependency: 'storage' }, Number(process.hrtime.bigint() - t) / 1e9);
            });
            return storage;
          },
        },
        RedisCloser,
        ReadinessChecks,
      ],
      exports: [CONFIG, REDIS, RedisKeys, STORAGE, StevedoreMetrics, ReadinessChecks],
    };
  }
}
