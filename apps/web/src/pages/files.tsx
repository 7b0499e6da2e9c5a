// An image's union filesystem, which no other registry UI shows: the merged view of its layers as
// a directory tree, and for each entry the layer it comes from (numbered from the bottom, as in the
// image's history) and the lower layers whose copy it shadows. Whited-out paths are not there.
import { useLocation, useSearchParams } from 'react-router';
import { Link } from 'react-aria-components';
import type { BrowsedEntry } from '@stevedore/api-contract';
import { ApiError } from '../api';
import { usePageTitle } from '../app';
import { formatBytes, shortDigest } from '../format';
import { useSession } from '../session';
import { DataTable } from '../parts';
import { LoadState } from '../feedback';
import { useLoad } from '../use-load';
import { repositoryOf } from './image';
import { splat } from './repository';

const layerName = (n: number | null) => (n === null ? '—' : `layer ${n + 1}`);

export function FilesPage() {
  const reference = splat(useLocation().pathname, '/files/');
  const repository = repositoryOf(reference);
  const [params] = useSearchParams();
  const path = (params.get('path') ?? '').replace(/^\/+/, '');
  usePageTitle(`/${path} in ${reference}`);
  const { api, session } = useSession();
  const files = useLoad(() => api.files(reference, `/${path}`), [api, reference, path, session?.user]);
  const href = (p: string) => `/files/${reference}${p ? `?path=${encodeURIComponent(`/${p}`)}` : ''}`;
  const parts = path ? path.split('/') : [];
  return (
    <>
      <p className="crumbs">
        <Link href="/repositories">Repositories</Link> / <Link href={`/r/${repository}`}>{repository}</Link> /{' '}
        <Link href={`/image/${reference}`}>{reference.slice(repository.length + 1)}</Link> / <span>files</span>
      </p>
      <h1>Files of {reference}</h1>
      <nav aria-label="Path" className="crumbs">
        <Link href={href('')}>/</Link>
        {parts.map((p, i) => (
          <span key={i}>
            {i > 0 ? ' / ' : ' '}
            {i === parts.length - 1 ? <span aria-current="page">{p}</span> : <Link href={href(parts.slice(0, i + 1).join('/'))}>{p}</Link>}
          </span>
        ))}
      </nav>
      <LoadState
        loaded={files}
        failed={(e) =>
          e instanceof ApiError && e.status === 404
            ? `There is no /${path} in this image (or it was deleted by a later layer).`
            : 'The files could not be read, or you may not see this image.'
        }
      />
      {files.state === 'done' ? (
        <>
          <p>
            {files.value.entry.type === 'directory' ? 'Directory' : `A ${files.value.entry.type}`} from {layerName(files.value.entry.layer)}
            {files.value.entry.shadows.length ? `, shadowing ${files.value.entry.shadows.map(layerName).join(', ')}` : ''}.
          </p>
          {files.value.entry.type === 'file' || files.value.entry.type === 'hardlink' ? (
            // A plain link, not a fetch: the browser streams the download to disk with the session cookie.
            <p>
              <a className="button" href={api.fileDownloadUrl(reference, `/${path}`)} download>
                Download {path.slice(path.lastIndexOf('/') + 1)}
                {files.value.entry.type === 'file' ? ` (${formatBytes(files.value.entry.size)})` : ''}
              </a>
            </p>
          ) : null}
          {files.value.entry.type === 'directory' ? (
            <DataTable caption={`Entries of /${path}`} columns={['Name', 'Type', 'Size', 'Mode', 'From', 'Shadows']}>
              {files.value.children.map((e: BrowsedEntry) => (
                <tr key={e.path}>
                  <td>
                    <Link href={href(e.path)}>{e.path.slice(e.path.lastIndexOf('/') + 1)}</Link>
                    {e.linkname ? ` → ${e.linkname}` : ''}
                  </td>
                  <td>{e.type}</td>
                  <td>{e.type === 'file' ? formatBytes(e.size) : '—'}</td>
                  <td>
                    <code>{e.mode.toString(8).padStart(4, '0')}</code>
                  </td>
                  <td title={e.layer === null ? undefined : files.value.layers[e.layer]}>{layerName(e.layer)}</td>
                  <td>{e.shadows.length ? e.shadows.map(layerName).join(', ') : '—'}</td>
                </tr>
              ))}
            </DataTable>
          ) : null}
          <h2>Layers</h2>
          <ol className="layers">
            {files.value.layers.map((d, i) => (
              <li key={d}>
                <code title={d}>{shortDigest(d)}</code>{' '}
                <Link href={`/changes/${reference}?layer=${i}`} aria-label={`Changes of layer ${i + 1}`}>
                  changes
                </Link>
              </li>
            ))}
          </ol>
        </>
      ) : null}
    </>
  );
}
