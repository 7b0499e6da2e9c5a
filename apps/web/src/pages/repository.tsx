// One repository: its tags with digest, platforms, size and creation time, and how to pull it.
import { useLocation } from 'react-router';
import { useState } from 'react';
import { Button, Link } from 'react-aria-components';
import { ApiError } from '../api';
import { usePageTitle } from '../app';
import { formatBytes, formatTime, shortDigest } from '../format';
import { useSession } from '../session';
import { DataTable } from '../parts';
import { useLoad } from '../use-load';

/** The part of the path after the route's prefix (repository names contain slashes). */
export function splat(pathname: string, prefix: string): string {
  return decodeURIComponent(pathname.slice(prefix.length));
}

export function RepositoryPage() {
  const name = splat(useLocation().pathname, '/r/');
  usePageTitle(name);
  const { api, session } = useSession();
  const tags = useLoad(() => api.tags(name), [api, name, session?.user]);
  return (
    <>
      <p className="crumbs">
        <Link href="/repositories">Repositories</Link> / <span>{name}</span>
      </p>
      <h1>{name}</h1>
      {tags.state === 'failed' ? (
        <p role="alert" className="error">
          {tags.error instanceof ApiError && (tags.error.status === 403 || tags.error.status === 401)
            ? 'You may not see this repository.'
            : 'The tags could not be read.'}
        </p>
      ) : null}
      {tags.state === 'done' && tags.value.length === 0 ? <p>No tags you may see in this repository.</p> : null}
      {tags.state === 'done' && tags.value.length > 0 ? (
        <>
          <DataTable caption={`Tags of ${name}`} columns={['Tag', 'Digest', 'Platforms', 'Compressed size', 'Created', 'History']}>
            {tags.value.map((t) => (
              <tr key={t.tag}>
                <td>
                  <Link href={`/image/${name}:${t.tag}`}>{t.tag}</Link>
                </td>
                <td>
                  <code title={t.digest}>{shortDigest(t.digest)}</code>
                </td>
                <td>{t.platforms?.join(', ') ?? '—'}</td>
                <td>{formatBytes(t.compressedSize)}</td>
                <td>{formatTime(t.created)}</td>
                <td>
                  <Link href={`/history/${name}:${t.tag}`} aria-label={`History of ${t.tag}`}>
                    history
                  </Link>
                </td>
              </tr>
            ))}
          </DataTable>
          <h2>Pull</h2>
          <PullCommands reference={`${location.host}/${name}:${tags.value[0].tag}`} />
        </>
      ) : null}
      {tags.state === 'loading' ? <p role="status">Loading…</p> : null}
    </>
  );
}

/** The commands that pull `reference` with each client people use, each with a copy button. */
export function pullCommands(reference: string): { client: string; command: string }[] {
  return [
    { client: 'docker', command: `docker pull ${reference}` },
    { client: 'podman', command: `podman pull ${reference}` },
    { client: 'skopeo', command: `skopeo copy docker://${reference} oci:${reference.split('/').pop()!.replace(':', '_')}` },
    { client: 'stevedore', command: `stevedore pull ${reference}` },
  ];
}

function PullCommands({ reference }: { reference: string }) {
  const [copied, setCopied] = useState<string | undefined>();
  return (
    <ul className="commands">
      {pullCommands(reference).map(({ client, command }) => (
        <li key={client}>
          <pre className="command">
            <code>{command}</code>
          </pre>
          <Button
            className="button secondary"
            aria-label={`Copy the ${client} command`}
            onPress={() => {
              void navigator.clipboard?.writeText(command).then(() => setCopied(client));
            }}
          >
            {copied === client ? 'Copied' : 'Copy'}
          </Button>
        </li>
      ))}
    </ul>
  );
}
