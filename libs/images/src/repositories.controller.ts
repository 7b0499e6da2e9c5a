// GET /api/v1/repositories: the repository index (libs/metadata) as a caller may see it. Rows are
// searched and sorted in Redis; each is shown only when the caller may pull it, and the cursor
// counts every row looked at, shown or not, so no page says how many the caller may not see.
import { Controller, Get, Inject, Query, Req } from '@nestjs/common';
import type { FastifyRequest } from 'fastify';
import { apiRoutes, type AnswerOf, type RepositorySummary } from '@stevedore/api-contract';
import { Access, parseQuery } from '@stevedore/platform';
import { AccessPolicy } from '@stevedore/registry';
import { REPOSITORY_INDEX, type RepositoryIndex, type RepositoryRow } from '@stevedore/metadata';

/** Rows looked at per request at most: a caller who may see few repositories gets short pages with a cursor, not a slow one. */
const MAX_SCANNED = 5000;

@Controller('api/v1/repositories')
export class RepositoriesController {
  constructor(
    @Inject(REPOSITORY_INDEX) private readonly index: RepositoryIndex,
    private readonly policy: AccessPolicy,
  ) {}

  @Get()
  @Access({ role: 'anyone', lists: 'repositories the caller may pull (anonymous: public ones)' })
  async list(@Req() req: FastifyRequest, @Query() raw: unknown): Promise<AnswerOf<'listRepositories'>> {
    const q = parseQuery(apiRoutes.listRepositories.query, raw);
    const n = q.n ? Number(q.n) : 50;
    const offset = q.cursor ? Number(q.cursor) : 0;
    const page = await this.index.rows({ q: q.q || undefined, sort: q.sort, offset, limit: MAX_SCANNED });
    const shown: RepositoryRow[] = [];
    let looked = 0;
    for (const r of page.rows) {
      looked++;
      if (await this.policy.permits(req, { type: 'repository', name: r.name, actions: ['pull'] })) shown.push(r);
      if (shown.length === n) break;
    }
    const after = offset + looked;
    const more = after < offset + page.rows.length || page.next !== undefined;
    const tags = await this.index.tagCounts(shown.map((r) => r.name));
    const items: RepositorySummary[] = shown.map((r, i) => ({
      name: r.name,
      lastPush: r.lastPush === null ? null : new Date(r.lastPush).toISOString(),
      pulls: r.pulls,
      tags: tags[i],
    }));
    return more ? { items, next: String(after) } : { items };
  }
}
