// One layer of an image as its changeset (Docker's A/C/D against the layers below it), or an image
// against another (`?from=`): what the layer, or the move from one image to the other, did.
import { useState } from 'react';
import { useLocation, useNavigate, useSearchParams } from 'react-router';
import { Button, Input, Label, Link, TextField } from 'react-aria-components';
import { ApiError } from '../api';
import { usePageTitle } from '../app';
import { formatBytes } from '../format';
import { useSession } from '../session';
import { DataTable } from '../parts';
import { LoadState } from '../feedback';
import { useLoad } from '../use-load';
import { repositoryOf } from './image';
import { splat } from './repository';

const KIND = { A: 'added', C: 'changed', D: 'deleted' } as const;

export function ChangesPage() {
  const reference = splat(useLocation().pathname, '/changes/');
  const repository = repositoryOf(reference);
  const [params] = useSearchParams();
  const navigate = useNavigate();
  const from = params.get('from') ?? undefined;
  const layerParam = params.get('layer');
  const layer = layerParam === null ? undefined : Number(layerParam);
  const title = from ? `${reference} against ${from}` : `Layer ${layer === undefined ? 'top' : layer + 1} of ${reference}`;
  usePageTitle(title);
  const { api, session } = useSession();
  const [other, setOther] = useState(from ?? '');
  const changes = useLoad(() => api.changes(reference, { layer, from }), [api, reference, layer, from, session?.user]);
  return (
    <>
      <p className="crumbs">
        <Link href="/repositories">Repositories</Link> / <Link href={`/r/${repository}`}>{repository}</Link> /{' '}
        <Link href={`/image/${reference}`}>{reference.slice(repository.length + 1)}</Link> / <span>changes</span>
      </p>
      <h1>{title}</h1>
      <form
        className="toolbar"
        onSubmit={(e) => {
          e.preventDefault();
          if (other.trim()) navigate(`/changes/${reference}?from=${encodeURIComponent(other.trim())}`);
        }}
      >
        <TextField value={other} onChange={setOther} className="search">
          <Label>Compare with another image</Label>
          <Input placeholder="name:tag" />
        </TextField>
        <Button type="submit" className="button secondary">
          Compare
        </Button>
      </form>
      <LoadState
        loaded={changes}
        failed={(e) => (e instanceof ApiError && e.status === 400 ? e.message : 'There is no such image, or you may not see it.')}
      />
      {changes.state === 'done' ? (
        changes.value.length === 0 ? (
          <p>No changes.</p>
        ) : (
          <DataTable caption="Changes: A added, C changed, D deleted" columns={['Change', 'Path', 'Type', 'Size']}>
            {changes.value.map((c) => (
              <tr key={c.path}>
                <td>
                  <abbr title={KIND[c.kind]}>{c.kind}</abbr>
                </td>
                <td>
                  <code>{c.path}</code>
                </td>
                <td>{c.type ?? '—'}</td>
                <td>{c.type === 'file' ? formatBytes(c.size) : '—'}</td>
              </tr>
            ))}
          </DataTable>
        )
      ) : null}
    </>
  );
}
