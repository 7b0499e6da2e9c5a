// GET /api/v1/images/referrers?ref=: what /v2/<name>/referrers/<digest> answers (signatures, SBOMs,
// attestations that name the image as their subject), by reference, for the web UI: its session
// cookie counts on /api/v1 only, and a tag is resolved here rather than in the browser.
import { Controller, Get, Inject, Query } from '@nestjs/common';
import { apiRoutes, type AnswerOf } from '@stevedore/api-contract';
import { parseLocalReference } from '@stevedore/oci';
import { Access, parseQuery, queryRepositories } from '@stevedore/platform';
import { METADATA_SERVICE, type MetadataService } from '@stevedore/metadata';

@Controller('api/v1/images/referrers')
export class ReferrersController {
  constructor(@Inject(METADATA_SERVICE) private readonly metadata: MetadataService) {}

  @Get()
  @Access({ role: 'anyone', repositories: queryRepositories(['pull'], 'ref') })
  async list(@Query() q: unknown): Promise<AnswerOf<'imageReferrers'>> {
    const { ref, artifactType } = parseQuery(apiRoutes.imageReferrers.query, q);
    const r = parseLocalReference(ref, { defaultTag: true });
    const subject = await this.metadata.getManifest(r);
    const found = await this.metadata.referrers(r.name, subject.digest, artifactType);
    return {
      repository: r.name,
      subject: subject.digest,
      referrers: found.map((d) => ({
        mediaType: d.mediaType,
        digest: d.digest,
        size: d.size,
        ...(d.artifactType ? { artifactType: d.artifactType } : {}),
        ...(d.annotations ? { annotations: d.annotations } : {}),
      })),
    };
  }
}
