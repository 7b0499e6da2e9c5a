// Bull Board at /admin/queues: every queue of the platform, for admins only (the same access guard
// as the registry, asked for the `registry:queues:*` scope that only admins are granted).
import type { INestApplication } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { QueueNames, createQueue, sendRegistryError, toRegistryError, type StevedoreConfig, closeBullmq } from '@stevedore/platform';
import { ACCESS_GUARD, type AccessGuard } from '@stevedore/registry';

export const QUEUE_DASHBOARD_PATH = '/admin/queues';

export async function mountQueueDashboard(app: INestApplication, config: StevedoreConfig): Promise<void> {
  const fastify = app.getHttpAdapter().getInstance() as FastifyInstance;
  // With auth off (a single-user machine) there is no guard; asking Nest for a missing provider
  // would abort the process, so only ask when auth is on.
  const guard = config.STEVEDORE_AUTH ? app.get<AccessGuard>(ACCESS_GUARD, { strict: false }) : undefined;
  const queues = Object.values(QueueNames).map((name) => createQueue(config, name));
  const serverAdapter = new FastifyAdapter();
  serverAdapter.setBasePath(QUEUE_DASHBOARD_PATH);
  // @bull-board/fastify pins its own copy of @bull-board/api one patch apart; the shapes are the same.
  createBullBoard({ queues: queues.map((q) => new BullMQAdapter(q, { readOnlyMode: false })), serverAdapter: serverAdapter as never });
  await fastify.register(async (scope) => {
    scope.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
      if (!guard) return;
      const access = { type: 'registry' as const, name: 'queues', actions: ['*'] };
      try {
        await guard.check(req, access);
      } catch (e) {
        const err = toRegistryError(e);
        sendRegistryError(reply, err, err.code === 'UNAUTHORIZED' ? { 'www-authenticate': 'Basic realm="stevedore"' } : {});
        return reply;
      }
    });
    await scope.register(serverAdapter.registerPlugin() as never, { prefix: QUEUE_DASHBOARD_PATH });
  });
  fastify.addHook('onClose', async () => {
    await Promise.all(queues.map((q) => closeBullmq(q, 1500)));
  });
}
