// What every verb needs: the server (--host / STEVEDORE_HOST), the config file, an API client
// carrying the stored credentials, output streams, and image-name resolution.
import { DEFAULT_HOST, formatLocalRef, looksLikeImageId, parseLocalRef, parseServer, type Server } from './args';
import { StevedoreApi, type ImageSummary } from './api-client';
import { configPath, getCredentials, readConfig } from './config-file';
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

  /** A local reference as the API takes it; an image ID (or prefix) becomes `repository@digest`. */
  async resolveImage(input: string, options: { defaultTag?: boolean } = {}): Promise<string> {
    if (looksLikeImageId(input)) {
      const id = input.startsWith('sha256:') ? input : `sha256:${input}`;
      const match = (await this.allImages()).find((i) => i.id.startsWith(id) || i.digest.startsWith(id));
      if (match) return `${match.repository}@${match.digest}`;
    }
    return formatLocalRef(parseLocalRef(input, this.server.key, options));
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
