// Every /api/v1 route in one table: method, path (OpenAPI template), success status, JSON request
// body and JSON answer. The controllers validate with the same schemas, the OpenAPI document is
// built from this table (openapi.ts), and clients parse answers through `response`.
import { z } from 'zod';
import * as commits from './commits';
import * as consistency from './consistency';
import * as containers from './containers';
import * as gc from './gc';
import * as q from './queries';
import * as images from './images';
import * as jobs from './jobs';
import * as upstreams from './upstreams';
import * as sessions from './sessions';
import * as users from './users';

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';

export interface ApiRoute {
  method: HttpMethod;
  /** OpenAPI path template: `/api/v1/containers/{id}`. */
  path: string;
  /** The status of a successful answer. */
  status: number;
  summary: string;
  /** The query string it accepts (libs/api-contract queries.ts). */
  query?: z.ZodObject;
  /** A JSON request body. */
  body?: z.ZodType;
  /** A raw request body of this media type (an upload), instead of JSON. */
  upload?: string;
  /** The JSON answer; absent when the answer is empty (204) or `produces` a stream. */
  response?: z.ZodType;
  /** A non-JSON answer's media type (a download, an event stream). */
  produces?: string;
  /** Another success status with the same answer (a commit that already existed answers 200). */
  alsoStatus?: number;
}

const TAR = 'application/x-tar';
const OCTETS = 'application/octet-stream';

export const apiRoutes = {
  // ---- images
  listImages: {
    method: 'GET',
    path: '/api/v1/images',
    query: q.ListImagesQuerySchema,
    status: 200,
    summary: 'List images (rows the caller may pull)',
    response: images.ImageListSchema,
  },
  inspectImage: {
    method: 'GET',
    path: '/api/v1/images/inspect',
    query: q.ImageRefQuerySchema,
    status: 200,
    summary: 'docker image inspect',
    response: images.InspectAnswerSchema,
  },
  imageHistory: {
    method: 'GET',
    path: '/api/v1/images/history',
    query: q.ImageRefQuerySchema,
    status: 200,
    summary: 'docker history',
    response: images.HistorySchema,
  },
  tagImage: {
    method: 'POST',
    path: '/api/v1/images/tag',
    status: 201,
    summary: 'docker tag',
    body: images.TagRequestSchema,
    response: images.TagResultSchema,
  },
  removeImage: {
    method: 'DELETE',
    path: '/api/v1/images',
    query: q.RemoveImageQuerySchema,
    status: 200,
    summary: 'docker rmi',
    response: images.RemoveResultSchema,
  },
  untagImage: {
    method: 'POST',
    path: '/api/v1/images/untag',
    query: q.ImageRefQuerySchema,
    status: 201,
    summary: 'Remove one tag',
    response: images.UntagResultSchema,
  },
  listRepositories: {
    method: 'GET',
    path: '/api/v1/repositories',
    query: images.RepositoryListQuerySchema,
    status: 200,
    summary: 'Repositories the caller may pull: search, sort by name, last push or pulls, pages',
    response: images.RepositoryListSchema,
  },
  imageChanges: {
    method: 'GET',
    path: '/api/v1/images/changes',
    query: containers.ImageChangesQuerySchema,
    status: 200,
    summary: "A layer's changeset (A/C/D) against the layers below, or an image's against another image",
    response: containers.ImageChangesSchema,
  },
  browseImage: {
    method: 'GET',
    path: '/api/v1/images/fs',
    query: containers.ImageBrowseQuerySchema,
    status: 200,
    summary: "A path of an image's union filesystem: the entry, its children, and the layer each comes from",
    response: containers.ImageBrowseSchema,
  },
  readImageFile: {
    method: 'GET',
    path: '/api/v1/images/file',
    query: containers.ImageFileQuerySchema,
    status: 200,
    summary: "One file of an image's union filesystem, as a download (from the layer the merged view names)",
    produces: OCTETS,
  },
  tagHistory: {
    method: 'GET',
    path: '/api/v1/images/tag-history',
    query: q.ImageRefQuerySchema,
    status: 200,
    summary: 'Where a tag has pointed, newest first',
    response: images.TagHistorySchema,
  },
  imageReferrers: {
    method: 'GET',
    path: '/api/v1/images/referrers',
    query: images.ReferrersQuerySchema,
    status: 200,
    summary: 'The artifacts (signatures, SBOMs) that name an image as their subject, with their artifact types',
    response: images.ReferrersSchema,
  },
  restoreTag: {
    method: 'POST',
    path: '/api/v1/images/tag-history/restore',
    status: 201,
    summary: 'Point a tag back at a digest it named before',
    body: images.RestoreTagRequestSchema,
    response: images.TagResultSchema,
  },
  resolveImageId: {
    method: 'GET',
    path: '/api/v1/image-ids/{id}',
    status: 200,
    summary: 'The image an ID or ID prefix names, in every repository the caller may pull',
    response: images.ImageIdSchema,
  },
  importRootfs: {
    method: 'POST',
    path: '/api/v1/images/import',
    query: q.ImportRootfsQuerySchema,
    status: 201,
    summary: 'docker import (a root filesystem tarball)',
    upload: OCTETS,
    response: images.RootfsImportResultSchema,
  },

  // ---- save / load
  createExport: {
    method: 'POST',
    path: '/api/v1/exports',
    status: 202,
    summary: 'docker save, as a job',
    body: images.ExportRequestSchema,
    response: images.ExportJobStatusSchema,
  },
  exportStatus: {
    method: 'GET',
    path: '/api/v1/exports/{id}',
    status: 200,
    summary: 'An export job',
    response: images.ExportJobStatusSchema,
  },
  exportArchive: { method: 'GET', path: '/api/v1/exports/{id}/archive', status: 200, summary: 'The finished archive', produces: TAR },
  deleteExport: { method: 'DELETE', path: '/api/v1/exports/{id}', status: 204, summary: 'Remove an export and its archive' },
  createImport: {
    method: 'POST',
    path: '/api/v1/imports',
    query: q.CreateImportQuerySchema,
    status: 202,
    summary: 'docker load, as a job',
    upload: TAR,
    response: images.ImportJobStatusSchema,
  },
  importStatus: {
    method: 'GET',
    path: '/api/v1/imports/{id}',
    status: 200,
    summary: 'An import job',
    response: images.ImportJobStatusSchema,
  },

  // ---- containers
  createContainer: {
    method: 'POST',
    path: '/api/v1/containers',
    status: 201,
    summary: 'docker create',
    body: containers.CreateContainerRequestSchema,
    response: containers.ContainerSchema,
  },
  listContainers: {
    method: 'GET',
    path: '/api/v1/containers',
    status: 200,
    summary: 'docker ps',
    response: containers.ContainerListSchema,
  },
  inspectContainer: {
    method: 'GET',
    path: '/api/v1/containers/{id}',
    status: 200,
    summary: 'docker inspect',
    response: containers.ContainerSchema,
  },
  removeContainer: { method: 'DELETE', path: '/api/v1/containers/{id}', status: 204, summary: 'docker rm' },
  writeFile: {
    method: 'PUT',
    path: '/api/v1/containers/{id}/files',
    query: q.WriteFileQuerySchema,
    status: 201,
    summary: 'Write a file (?path=, mode, uid, gid)',
    upload: OCTETS,
    response: containers.EntrySchema,
  },
  readFile: {
    method: 'GET',
    path: '/api/v1/containers/{id}/files',
    query: q.ContainerPathQuerySchema,
    status: 200,
    summary: 'Read a file',
    produces: OCTETS,
  },
  removeFile: {
    method: 'DELETE',
    path: '/api/v1/containers/{id}/files',
    query: q.RemoveFileQuerySchema,
    status: 204,
    summary: 'Remove a path',
  },
  statPath: {
    method: 'GET',
    path: '/api/v1/containers/{id}/stat',
    query: q.ContainerPathQuerySchema,
    status: 200,
    summary: 'Stat a path',
    response: containers.EntrySchema,
  },
  listDir: {
    method: 'GET',
    path: '/api/v1/containers/{id}/dir',
    query: q.ListDirQuerySchema,
    status: 200,
    summary: 'List a directory',
    response: containers.DirListingSchema,
  },
  fileOp: {
    method: 'POST',
    path: '/api/v1/containers/{id}/ops',
    status: 201,
    summary: 'mkdir, symlink, chmod, chown, remove, rename',
    body: containers.FileOpRequestSchema,
    response: containers.FileOpResultSchema,
  },
  putArchive: {
    method: 'PUT',
    path: '/api/v1/containers/{id}/archive',
    query: q.PutArchiveQuerySchema,
    status: 200,
    summary: 'Apply a tar (?mode=overlay|rootfs)',
    upload: TAR,
    response: containers.ArchiveUploadResultSchema,
  },
  containerChanges: {
    method: 'GET',
    path: '/api/v1/containers/{id}/changes',
    status: 200,
    summary: 'docker diff',
    response: containers.DiffSchema,
  },
  pauseContainer: {
    method: 'POST',
    path: '/api/v1/containers/{id}/pause',
    status: 200,
    summary: 'docker pause',
    response: containers.ContainerSchema,
  },
  unpauseContainer: {
    method: 'POST',
    path: '/api/v1/containers/{id}/unpause',
    status: 200,
    summary: 'docker unpause',
    response: containers.ContainerSchema,
  },

  // ---- commits and jobs
  commit: {
    method: 'POST',
    path: '/api/v1/commits',
    status: 202,
    alsoStatus: 200,
    summary: 'docker commit, as a job (200 when the same commit was asked for before)',
    body: commits.CommitSpecSchema,
    response: commits.CommitJobSchema,
  },
  commitBatch: {
    method: 'POST',
    path: '/api/v1/commits:batch',
    status: 202,
    summary: 'Many commits as one job',
    body: commits.BatchRequestSchema,
    response: commits.BatchSubmittedSchema,
  },
  listJobs: {
    method: 'GET',
    path: '/api/v1/jobs',
    query: jobs.ListJobsQuerySchema,
    status: 200,
    summary: "Jobs of every queue, newest first (the caller's own; admins: everyone's)",
    response: jobs.JobListSchema,
  },
  job: { method: 'GET', path: '/api/v1/jobs/{id}', status: 200, summary: 'A commit or batch job', response: commits.CommitJobSchema },
  cancelJob: {
    method: 'DELETE',
    path: '/api/v1/jobs/{id}',
    status: 202,
    summary: 'Cancel a commit or batch job',
    response: commits.JobCancelledSchema,
  },
  jobEvents: {
    method: 'GET',
    path: '/api/v1/jobs/{id}/events',
    status: 200,
    summary: 'Server-sent events: status, progress, then completed or failed (each data a job)',
    produces: 'text/event-stream',
  },

  // ---- the browser's session
  createSession: {
    method: 'POST',
    path: '/api/v1/session',
    status: 201,
    summary: 'Sign in: a user name and password for a session cookie and its anti-CSRF token',
    body: sessions.SignInRequestSchema,
    response: sessions.SessionSchema,
  },
  getSession: { method: 'GET', path: '/api/v1/session', status: 200, summary: 'The current session', response: sessions.SessionSchema },
  deleteSession: { method: 'DELETE', path: '/api/v1/session', status: 204, summary: 'Sign out: revoke the session, clear its cookie' },

  // ---- users, robots, visibility
  listUsers: { method: 'GET', path: '/api/v1/users', status: 200, summary: 'Every account', response: users.UserListSchema },
  createUser: {
    method: 'POST',
    path: '/api/v1/users',
    status: 201,
    summary: 'Create a user',
    body: users.CreateUserRequestSchema,
    response: users.UserSchema,
  },
  getUser: { method: 'GET', path: '/api/v1/users/{name}', status: 200, summary: 'One account', response: users.UserSchema },
  updateUser: {
    method: 'PATCH',
    path: '/api/v1/users/{name}',
    status: 200,
    summary: 'Change a password (admins: disabled, admin)',
    body: users.UpdateUserRequestSchema,
    response: users.UserSchema,
  },
  removeUser: {
    method: 'DELETE',
    path: '/api/v1/users/{name}',
    status: 204,
    summary: 'Remove a user, their sessions and robots (never the last admin, nor yourself)',
  },
  listRobots: { method: 'GET', path: '/api/v1/robots', status: 200, summary: 'Robots you own', response: users.RobotListSchema },
  createRobot: {
    method: 'POST',
    path: '/api/v1/robots',
    status: 201,
    summary: 'Create a robot (its secret is shown once)',
    body: users.CreateRobotRequestSchema,
    response: users.CreatedRobotSchema,
  },
  removeRobot: { method: 'DELETE', path: '/api/v1/robots/{name}', status: 204, summary: 'Remove a robot' },
  setVisibility: {
    method: 'PUT',
    path: '/api/v1/repositories/visibility',
    status: 200,
    summary: 'Make a repository public or private',
    body: users.VisibilityRequestSchema,
    response: users.VisibilitySchema,
  },

  // ---- upstreams and replication
  listUpstreams: {
    method: 'GET',
    path: '/api/v1/upstreams',
    status: 200,
    summary: 'Upstream registries',
    response: upstreams.UpstreamListSchema,
  },
  createUpstream: {
    method: 'POST',
    path: '/api/v1/upstreams',
    status: 201,
    summary: 'Add an upstream',
    body: upstreams.UpstreamRequestSchema,
    response: upstreams.UpstreamSchema,
  },
  getUpstream: { method: 'GET', path: '/api/v1/upstreams/{id}', status: 200, summary: 'One upstream', response: upstreams.UpstreamSchema },
  updateUpstream: {
    method: 'PUT',
    path: '/api/v1/upstreams/{id}',
    status: 200,
    summary: 'Replace an upstream',
    body: upstreams.UpstreamRequestSchema,
    response: upstreams.UpstreamSchema,
  },
  removeUpstream: { method: 'DELETE', path: '/api/v1/upstreams/{id}', status: 204, summary: 'Remove an upstream' },
  replicate: {
    method: 'POST',
    path: '/api/v1/replications',
    status: 202,
    summary: 'Copy an image to an upstream, as a job',
    body: upstreams.ReplicateRequestSchema,
    response: upstreams.ReplicateAcceptedSchema,
  },
  replication: {
    method: 'GET',
    path: '/api/v1/replications/{id}',
    status: 200,
    summary: 'A replication job',
    response: upstreams.ReplicationStatusSchema,
  },
  listReplicationRules: {
    method: 'GET',
    path: '/api/v1/replication-rules',
    status: 200,
    summary: 'Replication rules',
    response: upstreams.ReplicationRuleListSchema,
  },
  createReplicationRule: {
    method: 'POST',
    path: '/api/v1/replication-rules',
    status: 201,
    summary: 'Add a replication rule',
    body: upstreams.ReplicationRuleRequestSchema,
    response: upstreams.ReplicationRuleSchema,
  },
  removeReplicationRule: { method: 'DELETE', path: '/api/v1/replication-rules/{id}', status: 204, summary: 'Remove a replication rule' },

  // ---- storage hygiene
  runGc: {
    method: 'POST',
    path: '/api/v1/gc',
    status: 202,
    summary: 'Start a GC run',
    body: gc.GcRunRequestSchema,
    response: gc.GcRunSchema,
  },
  runConsistency: {
    method: 'POST',
    path: '/api/v1/admin/consistency',
    status: 200,
    alsoStatus: 202,
    summary:
      'Run the consistency pass (Redis indexes against storage) and answer what it found and repaired; 202 when it runs longer than waitSeconds',
    body: consistency.ConsistencyRunRequestSchema,
    response: consistency.ConsistencyRunSchema,
  },
  listConsistencyRuns: {
    method: 'GET',
    path: '/api/v1/admin/consistency/runs',
    status: 200,
    summary: 'Recent consistency passes, scheduled and on demand',
    response: consistency.ConsistencyRunListSchema,
  },
  listGcRuns: { method: 'GET', path: '/api/v1/gc/runs', status: 200, summary: 'Recent GC runs', response: gc.GcRunListSchema },
  gcRun: { method: 'GET', path: '/api/v1/gc/runs/{id}', status: 200, summary: 'One GC run', response: gc.GcRunSchema },
  listRetention: {
    method: 'GET',
    path: '/api/v1/retention',
    status: 200,
    summary: 'Retention rules',
    response: gc.RetentionRuleListSchema,
  },
  putRetention: {
    method: 'PUT',
    path: '/api/v1/retention',
    status: 200,
    summary: "Set a repository's retention rule",
    body: gc.RetentionRuleSchema,
    response: gc.RetentionRuleSchema,
  },
  deleteRetention: {
    method: 'DELETE',
    path: '/api/v1/retention',
    query: q.RetentionQuerySchema,
    status: 204,
    summary: 'Remove a retention rule (?repository=)',
  },
  listQuotas: { method: 'GET', path: '/api/v1/quotas', status: 200, summary: 'Quotas and usage', response: gc.QuotaListSchema },
  getQuota: {
    method: 'GET',
    path: '/api/v1/quotas/{namespace}',
    status: 200,
    summary: "A namespace's quota",
    response: gc.NamespaceQuotaSchema,
  },
  putQuota: {
    method: 'PUT',
    path: '/api/v1/quotas/{namespace}',
    status: 200,
    summary: "Set a namespace's limit",
    body: gc.QuotaLimitRequestSchema,
    response: gc.NamespaceQuotaSchema,
  },
  deleteQuota: { method: 'DELETE', path: '/api/v1/quotas/{namespace}', status: 204, summary: "Remove a namespace's limit" },
} as const satisfies Record<string, ApiRoute>;

export type RouteName = keyof typeof apiRoutes;

/** What a route answers on success, as a client receives it. */
export type AnswerOf<N extends RouteName> = (typeof apiRoutes)[N] extends { response: infer S extends z.ZodType } ? z.output<S> : undefined;

/** The route a method and concrete path name (`/api/v1/jobs/abc` matches `/api/v1/jobs/{id}`). */
export function routeFor(method: string, path: string): ApiRoute | undefined {
  const bare = path.split('?')[0];
  const all: ApiRoute[] = Object.values(apiRoutes);
  return all.find((r) => r.method === method.toUpperCase() && templateRegExp(r.path).test(bare));
}

function templateRegExp(template: string): RegExp {
  const parts = template.split(/\{[^}]+\}/).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'));
  return new RegExp(`^${parts.join('[^/]+')}$`);
}
