// The images lib's keyspace (save/load jobs and layer sizes), written down in one place. Storage:
//
//   exports/<job id>/archive      a saved tarball, until its job is deleted or expires
//   imports/<job id>/upload       an uploaded tarball, until its load job ends
//
// Redis (<p> is STEVEDORE_REDIS_PREFIX):
//
//   <p>:images:layer-usize        hash layer digest -> uncompressed bytes (for `docker images` SIZE)
//   <p>:{export,import}:*         BullMQ's queues (their keys are BullMQ's)
import type { RedisKeys } from '@stevedore/platform';

export const ImageJobPaths = {
  exportArchive: (id: string) => `exports/${id}/archive`,
  importUpload: (id: string) => `imports/${id}/upload`,
} as const;

export function imageKeys(keys: RedisKeys) {
  return {
    layerSizes: () => keys.key('images', 'layer-usize'),
  };
}
