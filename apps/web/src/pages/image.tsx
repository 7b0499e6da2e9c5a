// One image as `docker image inspect` shows it (Cmd, Entrypoint, Env, WorkingDir, User,
// ExposedPorts, Labels, Author, created) and its layers from `docker history`, with sizes. An index
// lists its platforms, each a link to its image. Below: the artifacts (signatures, SBOMs) that name
// the image as their subject, with their artifact types.
import { useState } from 'react';
import { useLocation } from 'react-router';
import { Button, Link } from 'react-aria-components';
import type { HistoryEntry, InspectAnswer, Referrers } from '@stevedore/api-contract';
import { ApiError } from '../api';
import { usePageTitle } from '../app';
import { formatBytes, formatTime, shortDigest } from '../format';
import { useSession } from '../session';
import { type Fact, Facts, DataTable } from '../parts';
import { type Outcome, LoadState, OutcomeText, isAbsentOrHidden } from '../feedback';
import { useLoad, type Loaded } from '../use-load';
import { splat } from './repository';

/** `name:tag` or `name@digest`, split into the repository and the rest. */
export function repositoryOf(reference: string): string {
  const at = reference.indexOf('@');
  if (at >= 0) return reference.slice(0, at);
  const colon = reference.lastIndexOf(':');
  return colon > reference.lastIndexOf('/') ? reference.slice(0, colon) : reference;
}

function show(v: unknown): string {
  if (v === undefined || v === null) return '—';
  if (Array.isArray(v)) return v.length ? JSON.stringify(v) : '—';
  if (typeof v === 'object') return Object.keys(v).length ? JSON.stringify(v) : '—';
  return String(v) || '—';
}

const CONFIG_FIELDS = ['Cmd', 'Entrypoint', 'Env', 'WorkingDir', 'User', 'ExposedPorts', 'Labels'] as const;

export function ImagePage() {
  const reference = splat(useLocation().pathname, '/image/');
  const repository = repositoryOf(reference);
  usePageTitle(reference);
  const { api, session } = useSession();
  const image = useLoad(() => api.image(reference), [api, reference, session?.user]);
  const referrers = useLoad(() => api.referrers(reference), [api, reference, session?.user]);
  return (
    <>
      <p className="crumbs">
        <Link href="/repositories">Repositories</Link> / <Link href={`/r/${repository}`}>{repository}</Link> /{' '}
        <span>{reference.slice(repository.length + 1)}</span>
      </p>
      <h1>{reference}</h1>
      <LoadState
        loaded={image}
        failed={(e) => (isAbsentOrHidden(e) ? 'There is no such image, or you may not see it.' : 'The image could not be read.')}
      />
      {image.state === 'done' && session && 'Config' in image.value.inspect ? (
        <ImageActions reference={reference} repository={repository} />
      ) : null}
      {image.state === 'done' ? <ImageDetails reference={reference} repository={repository} {...image.value} /> : null}
      {image.state === 'done' ? <ReferrerList repository={repository} referrers={referrers} /> : null}
    </>
  );
}

/**
 * What a signed-in caller can do with an image: create a container from it (pull is enough, and the
 * caller sees it), and untag or remove it (docker rmi: the manifest goes once no tag names it) where
 * the caller may push: an admin anywhere, a user in their own namespace (grants elsewhere are the
 * server's to honour: it refuses what the caller may not do).
 */
function ImageActions({ reference, repository }: { reference: string; repository: string }) {
  const { api, session } = useSession();
  const [untagged, setUntagged] = useState<Outcome | undefined>();
  const [confirmingRemove, setConfirmingRemove] = useState(false);
  const isTag = !reference.includes('@');
  const mayPush = !!session && (session.admin || repository.startsWith(`${session.user}/`));
  const remove = async () => {
    setConfirmingRemove(false);
    try {
      const r = await api.removeImage(reference);
      const parts = [...r.untagged.map((t) => `Untagged: ${t}`), ...r.deleted.map((d) => `Deleted: ${d}`)];
      setUntagged({ ok: true, text: parts.length ? parts.join('. ') + '.' : `Removed ${reference}.` });
    } catch (e) {
      setUntagged({ ok: false, text: e instanceof ApiError ? `Remove failed: ${e.message}` : 'Remove failed.' });
    }
  };
  return (
    <>
      <p className="actions">
        <Link className="button" href={`/containers?image=${encodeURIComponent(reference)}`}>
          Create container
        </Link>
        {isTag && mayPush && !untagged?.ok ? (
          <Button
            className="button secondary"
            onPress={async () => {
              try {
                await api.untag(reference);
                setUntagged({ ok: true, text: `Untagged ${reference}.` });
              } catch (e) {
                setUntagged({ ok: false, text: e instanceof ApiError ? `Untag failed: ${e.message}` : 'Untag failed.' });
              }
            }}
          >
            Untag
          </Button>
        ) : null}
        {mayPush && !untagged?.ok && !confirmingRemove ? (
          <Button className="button secondary" onPress={() => setConfirmingRemove(true)}>
            Remove image
          </Button>
        ) : null}
      </p>
      {confirmingRemove ? (
        <p className="actions" role="group" aria-label="Confirm removal">
          {isTag ? `Untag ${reference} and delete its manifest if no other tag names it?` : `Delete the manifest ${reference}?`}{' '}
          <Button className="button" onPress={remove}>
            Remove
          </Button>
          <Button className="button secondary" onPress={() => setConfirmingRemove(false)}>
            Cancel
          </Button>
        </p>
      ) : null}
      <OutcomeText outcome={untagged}> {untagged?.ok ? <Link href={`/r/${repository}`}>Back to {repository}</Link> : null}</OutcomeText>
    </>
  );
}

export function ImageDetails({
  reference,
  repository,
  inspect,
  history,
}: {
  reference: string;
  repository: string;
  inspect: InspectAnswer;
  history: HistoryEntry[];
}) {
  if (!('Config' in inspect)) {
    return (
      <>
        <h2>Platforms</h2>
        <DataTable columns={['Platform', 'Kind', 'Digest', 'Size']}>
          {inspect.Manifests.map((m) => {
            const platform = m.Platform ? [m.Platform.os, m.Platform.architecture, m.Platform.variant].filter(Boolean).join('/') : '—';
            return (
              <tr key={m.Descriptor.digest}>
                <td>{m.Kind === 'image' ? <Link href={`/image/${repository}@${m.Descriptor.digest}`}>{platform}</Link> : platform}</td>
                <td>{m.Kind}</td>
                <td>
                  <code>{shortDigest(m.Descriptor.digest)}</code>
                </td>
                <td>{formatBytes(m.Descriptor.size)}</td>
              </tr>
            );
          })}
        </DataTable>
      </>
    );
  }
  const config = inspect.Config;
  const facts: Fact[] = [
    ['ID', <code key="id">{inspect.Id}</code>],
    ['Author', inspect.Author || '—'],
    ['Created', formatTime(inspect.Created)],
    ['Platform', [inspect.Os, inspect.Architecture, inspect.Variant].filter(Boolean).join('/')],
    ['Comment', inspect.Comment || '—'],
    ...CONFIG_FIELDS.map((f): Fact => [f, <code key={f}>{show(config[f])}</code>]),
    ['Size', `${formatBytes(inspect.CompressedSize)} compressed, ${formatBytes(inspect.UncompressedSize)} unpacked`],
  ];
  return (
    <>
      <h2>Configuration</h2>
      <Facts facts={facts} />
      <h2>Layers</h2>
      <p>
        <Link href={`/files/${reference}`}>Browse the files</Link> of the union filesystem: each entry with the layer it comes from.
      </p>
      <DataTable
        caption="History entries, oldest first, with the layer each made"
        columns={['#', 'Created by', 'Layer', 'Size', 'Compressed', 'Created']}
      >
        {[...history].reverse().map((h, i) => (
          <tr key={i}>
            <td>{i + 1}</td>
            <td>
              <code className="wrap">{h.CreatedBy || '—'}</code>
            </td>
            <td>
              {h.EmptyLayer ? <em>empty layer</em> : h.LayerDigest ? <code title={h.LayerDigest}>{shortDigest(h.LayerDigest)}</code> : '—'}
            </td>
            <td>{h.EmptyLayer ? '—' : formatBytes(h.Size)}</td>
            <td>{h.EmptyLayer ? '—' : formatBytes(h.CompressedSize)}</td>
            <td>{h.Created ? formatTime(new Date(h.Created * 1000).toISOString()) : '—'}</td>
          </tr>
        ))}
      </DataTable>
    </>
  );
}

/** A readable name for the common artifact types; the type itself is shown beside it. */
function artifactKind(type: string | undefined): string {
  if (!type) return 'image';
  if (/sig|signature/.test(type)) return 'signature';
  if (/spdx|cyclonedx|sbom|syft/.test(type)) return 'SBOM';
  if (/in-toto|attestation|provenance|slsa/.test(type)) return 'attestation';
  return 'artifact';
}

export function ReferrerList({ repository, referrers }: { repository: string; referrers: Loaded<Referrers> }) {
  return (
    <>
      <h2>Referrers</h2>
      <LoadState loaded={referrers} failed={() => 'The referrers could not be read.'} />
      {referrers.state === 'done' && referrers.value.referrers.length === 0 ? (
        <p className="hint">No signature, SBOM or other artifact names this image as its subject.</p>
      ) : null}
      {referrers.state === 'done' && referrers.value.referrers.length > 0 ? (
        <DataTable caption="Artifacts that name this image as their subject" columns={['Kind', 'Artifact type', 'Digest', 'Size']}>
          {referrers.value.referrers.map((r) => (
            <tr key={r.digest}>
              <td>{artifactKind(r.artifactType)}</td>
              <td>
                <code className="wrap">{r.artifactType ?? r.mediaType}</code>
              </td>
              <td>
                <Link href={`/image/${repository}@${r.digest}`}>
                  <code title={r.digest}>{shortDigest(r.digest)}</code>
                </Link>
              </td>
              <td>{formatBytes(r.size)}</td>
            </tr>
          ))}
        </DataTable>
      ) : null}
    </>
  );
}
