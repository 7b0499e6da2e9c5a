// ContainerService over HTTP: what a split gateway and the commit workers use to reach the
// metadata-service that hosts containers.
import type { Readable } from 'node:stream';
import { InternalClient } from '@stevedore/platform';
import type { Change, ContainerSnapshot, ContainerView, Entry, FileOp, FileOptions, TarMode } from './container';
import type { ContainerCollectOptions, ContainerCollectReport, ContainerService, CreateContainerOptions, UploadOptions } from './container-service';

const seg = (id: string) => encodeURIComponent(id);

export class ContainerServiceClient implements ContainerService {
  private readonly http: InternalClient;
  constructor(baseUrl: string, token?: string) {
    this.http = new InternalClient(baseUrl, token);
  }

  create(options: CreateContainerOptions): Promise<ContainerView> {
    return this.http.json({ method: 'POST', path: '/containers', json: options });
  }
  list(): Promise<ContainerView[]> {
    return this.http.json({ method: 'GET', path: '/containers' });
  }
  inspect(id: string): Promise<ContainerView> {
    return this.http.json({ method: 'GET', path: `/containers/${seg(id)}` });
  }
  async remove(id: string): Promise<void> {
    await this.http.json({ method: 'DELETE', path: `/containers/${seg(id)}` });
  }
  writeFile(id: string, path: string, body: Readable, options: FileOptions = {}): Promise<Entry> {
    return this.http.json({ method: 'PUT', path: `/containers/${seg(id)}/files`, query: { path, mode: options.mode, uid: options.uid, gid: options.gid }, body });
  }
  async apply(id: string, op: FileOp): Promise<Entry | undefined> {
    const r = await this.http.json<{ entry?: Entry }>({ method: 'POST', path: `/containers/${seg(id)}/ops`, json: op });
    return r.entry ?? undefined;
  }
  uploadTar(id: string, body: Readable, mode: TarMode, options: UploadOptions = {}): Promise<{ entries: number }> {
    return this.http.json({ method: 'PUT', path: `/containers/${seg(id)}/archive`, query: { mode, allowDevices: options.allowDevices ? '1' : undefined }, body });
  }
  stat(id: string, path: string): Promise<Entry> {
    return this.http.json({ method: 'GET', path: `/containers/${seg(id)}/stat`, query: { path } });
  }
  async readFile(id: string, path: string): Promise<{ entry: Entry; stream: Readable }> {
    const r = await this.http.call({ method: 'GET', path: `/containers/${seg(id)}/files`, query: { path } });
    return { entry: JSON.parse(decodeURIComponent(String(r.headers['x-entry']))) as Entry, stream: r.body };
  }
  listDir(id: string, path: string): Promise<Entry[]> {
    return this.http.json({ method: 'GET', path: `/containers/${seg(id)}/dir`, query: { path } });
  }
  diff(id: string): Promise<Change[]> {
    return this.http.json({ method: 'GET', path: `/containers/${seg(id)}/changes` });
  }
  pause(id: string): Promise<ContainerView> {
    return this.http.json({ method: 'POST', path: `/containers/${seg(id)}/pause` });
  }
  unpause(id: string): Promise<ContainerView> {
    return this.http.json({ method: 'POST', path: `/containers/${seg(id)}/unpause` });
  }
  snapshot(id: string, holder?: string): Promise<ContainerSnapshot> {
    return this.http.json({ method: 'POST', path: `/containers/${seg(id)}/snapshot`, query: { holder } });
  }
  async release(id: string, holder: string): Promise<void> {
    await this.http.json({ method: 'POST', path: `/containers/${seg(id)}/release`, query: { holder } });
  }
  collect(options: ContainerCollectOptions): Promise<ContainerCollectReport> {
    return this.http.json({ method: 'POST', path: '/containers-gc', json: options });
  }
}
