// What every verb needs: the server (--host / STEVEDORE_HOST), the config file, an API client
// carrying the stored credentials, output streams, and image-name resolution.
import { DEFAULT_HOST, formatLocalRef, looksLikeImageId, parseLocalRef, parseServer, type Server } from './args';
import { StevedoreApi, type ImageSummary } from './api-client';
import type { ImageId } from '@stevedore/api-contract';
import { configPath, getCredentials, readConfig } from './config-file';
import { CliError } from './errors';
import { HttpClient } from './http-client';

export interface GlobalOptions {
  host?: string;
  config?: string;
}

export interface Io {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream & { isTTY?: boolean };
  env: NodeJS.ProcessEnv;
}

export class Context {
  private apiClient?: StevedoreApi;

  constructor(
    readonly io: Io,
    private readonly globals: GlobalOptions,
  ) {}

  get configFile(): string {
    return this.globals.config || configPath(this.io.env);
  }

  get server(): Server {
    return parseServer(this.globals.host || this.io.env['STEVEDORE_HOST'] || DEFAULT_HOST);
  }

  get api(): StevedoreApi {
    if (!this.apiClient) {
      const server = this.server;
      this.apiClient = new StevedoreApi(new HttpClient(server, getCredentials(readConfig(this.configFile), server.key)));
    }
    return this.apiClient;
  }

  print(line = ''): void {
    this.io.stdout.write(line.endsWith('\n') ? line : line + '\n');
  }

  note(line: string): void {
    this.io.stderr.write(line.endsWith('\n') ? line : line + '\n');
  }

  /**
   * What an image argument names. By ID first, through the platform's image-ID index (`byId`: every
   * repository the caller may pull the image from, with its tags), as Docker does (imageIdForm): an
   * argument written as an ID is only ever one, bare hex of 4 to 63 digits is an ID when an image
   * has it and a name otherwise, and a prefix two images share is ambiguous (an error). Then the
   * ID or digest of a row of `stevedore images` that is no image's (an index's), then a name. `ref`
   * is what the API takes: `repository@digest` of one holder (a tagged one first), or the name.
   */
  async lookupImage(input: string, options: { defaultTag?: boolean } = {}): Promise<{ ref: string; byId?: ImageId }> {
    const form = imageIdForm(input);
    if (form) {
      const byId = await this.api.resolveImageId(input).catch((e: unknown) => {
        if (e instanceof CliError && e.status === 404) return undefined;
        if (e instanceof CliError && e.code === 'CONFLICT')
          throw new CliError(`short ID ${input} is ambiguous`, undefined, undefined, 1, 409);
        throw e;
      });
      if (byId) {
        const h = byId.holders.find((x) => x.tags.length) ?? byId.holders[0];
        return { ref: `${h.repository}@${h.digest}`, byId };
      }
    }
    if (looksLikeImageId(input)) {
      const id = input.startsWith('sha256:') ? input : `sha256:${input}`;
      const match = (await this.allImages()).find((i) => i.id.startsWith(id) || i.digest.startsWith(id));
      if (match) return { ref: `${match.repository}@${match.digest}` };
    }
    if (form === 'id') throw noSuchImage(input);
    return { ref: formatLocalRef(parseLocalRef(input, this.server.key, options)) };
  }

  /** A local reference as the API takes it; an image ID (or prefix) becomes `repository@digest` (lookupImage). */
  async resolveImage(input: string, options: { defaultTag?: boolean } = {}): Promise<string> {
    return (await this.lookupImage(input, options)).ref;
  }

  async allImages(repository?: string): Promise<ImageSummary[]> {
    const out: ImageSummary[] = [];
    let last: string | undefined;
    for (let page = 0; page < 1000; page++) {
      const r = await this.api.listImages({ repository, n: 1000, last });
      out.push(...r.items);
      if (!r.next || !r.items.length) break;
      last = r.next;
    }
    return out;
  }
}

/** Docker's `Error: No such image: <arg>` (no code: the line is Docker's). */
export function noSuchImage(input: string): CliError {
  return new CliError(`No such image: ${input}`, undefined, undefined, 1, 404);
}

/** Whether a registry error says the image a name names is not there (its tag, manifest or repository). */
export function isMissingImage(e: unknown): boolean {
  return e instanceof CliError && (e.code === 'MANIFEST_UNKNOWN' || e.code === 'NAME_UNKNOWN');
}

/**
 * How an argument reads as an image ID: `id` for one written as an ID (`sha256:` and 4 to 64 hex, or
 * 64 hex: never a name), `id-or-name` for 4 to 63 bare hex digits (`cafe` may be a repository: an
 * ID first, else the name), undefined for anything else (a name: it has a tag, a digest, a slash or
 * a letter beyond f).
 */
export function imageIdForm(input: string): 'id' | 'id-or-name' | undefined {
  const m = /^(sha256:)?([0-9a-f]{4,64})$/.exec(input);
  if (!m) return undefined;
  return m[1] || m[2].length === 64 ? 'id' : 'id-or-name';
}
