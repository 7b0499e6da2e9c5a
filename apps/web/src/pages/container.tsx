// One container: its merged filesystem (the image's layers under the container's read-write layer)
// browsed a directory at a time, each entry marked with what the read-write layer did to it (A added,
// C changed, D deleted: a deleted path is a whiteout, listed though the merged view no longer has
// it), a file's text edited in place, uploads to a path, deletes, `docker diff`, pause/unpause,
// remove, and the way to commit it. Controls the caller may not use are not shown; the server
// refuses those requests anyway.
import { useEffect, useState, type FormEvent } from 'react';
import { useLocation, useNavigate, useSearchParams } from 'react-router';
import { Button, Form, Input, Label, Link, TextArea, TextField } from 'react-aria-components';
import type { Change, Container, Entry } from '@stevedore/api-contract';
import { ApiError, type Api } from '../api';
import { usePageTitle } from '../app';
import { formatBytes, formatTime, shortDigest } from '../format';
import { useSession } from '../session';
import { ActionButton, DataTable, type Fact, Facts } from '../parts';
import { type Outcome, LoadState, OutcomeText, isAbsentOrHidden } from '../feedback';
import { useLoad } from '../use-load';
import { commitHref, containerName } from './containers';

/** Larger files are not loaded into the editor: the page edits small text files (configs, pages). */
export const EDITABLE_BYTES = 64 * 1024;

const KIND_NAMES = { A: 'added', C: 'changed', D: 'deleted' } as const;

const parentOf = (p: string) => p.slice(0, Math.max(p.lastIndexOf('/'), 0)) || '/';
const baseName = (p: string) => p.slice(p.lastIndexOf('/') + 1);
const absolute = (p: string) => `/${p.replace(/^\/+/, '')}`;

/** What the page shows for one path: the entry, and a directory's children or a file's nothing more. */
async function loadPath(api: Api, id: string, path: string) {
  const container = await api.container(id);
  const [entry, changes] = await Promise.all([
    api.containerStat(id, path).catch((e: unknown) => {
      if (e instanceof ApiError && e.status === 404) return undefined; // no such path (the container is there)
      throw e;
    }),
    api.containerChanges(id),
  ]);
  const children = entry?.type === 'directory' ? await api.containerDir(id, path) : [];
  return { container, entry, children, changes };
}

export function ContainerPage() {
  const id = decodeURIComponent(useLocation().pathname.slice('/containers/'.length));
  const [params] = useSearchParams();
  const path = absolute(params.get('path') ?? '/');
  const { api, session } = useSession();
  const [generation, setGeneration] = useState(0);
  const [message, setMessage] = useState<Outcome | undefined>();
  const loaded = useLoad(() => loadPath(api, id, path), [api, id, path, session?.user, generation]);
  const title = loaded.state === 'done' ? containerName(loaded.value.container) : id.slice(0, 12);
  usePageTitle(`Container ${title}`);
  const navigate = useNavigate();

  /** Run a change, say how it went, and read the container again. */
  async function act(work: () => Promise<unknown>, done: string, failed: string) {
    try {
      await work();
      setMessage({ ok: true, text: done });
    } catch (e) {
      setMessage({ ok: false, text: e instanceof ApiError ? `${failed}: ${e.message}` : failed });
    }
    setGeneration((g) => g + 1);
  }

  const href = (p: string) => `/containers/${encodeURIComponent(id)}${p === '/' ? '' : `?path=${encodeURIComponent(p)}`}`;
  const parts = path.split('/').filter(Boolean);

  return (
    <>
      <p className="crumbs">
        <Link href="/containers">Containers</Link> / <span>{title}</span>
      </p>
      <h1>Container {title}</h1>
      <OutcomeText outcome={message} />
      <LoadState
        loaded={loaded}
        failed={(e) => (isAbsentOrHidden(e) ? 'There is no such container, or you may not see it.' : 'The container could not be read.')}
      />
      {loaded.state === 'done'
        ? (() => {
            const { container, entry, children, changes } = loaded.value;
            // The owner and admins may change a container; without auth there is no owner.
            const mayChange = !!session && (session.admin || !container.owner || container.owner === session.user);
            const kindOf = new Map(changes.map((c) => [c.path, c.kind]));
            return (
              <>
                <ContainerFacts container={container} />
                {mayChange ? (
                  <ContainerActions
                    container={container}
                    act={act}
                    onRemoved={() => navigate('/containers', { replace: true })}
                    api={api}
                  />
                ) : (
                  <p className="hint">You may look at this container but not change it.</p>
                )}
                <h2>Files</h2>
                <nav aria-label="Path" className="crumbs">
                  <Link href={href('/')}>/</Link>
                  {parts.map((p, i) => (
                    <span key={i}>
                      {i > 0 ? ' / ' : ' '}
                      {i === parts.length - 1 ? (
                        <span aria-current="page">{p}</span>
                      ) : (
                        <Link href={href(`/${parts.slice(0, i + 1).join('/')}`)}>{p}</Link>
                      )}
                    </span>
                  ))}
                </nav>
                {!entry ? (
                  <p role="alert" className="error">
                    There is no {path} in this container{kindOf.get(path) === 'D' ? ': it was deleted (a whiteout hides it)' : ''}.
                  </p>
                ) : entry.type === 'directory' ? (
                  <DirectoryTable
                    path={path}
                    entries={children}
                    changes={changes}
                    kindOf={kindOf}
                    href={href}
                    mayChange={mayChange}
                    onDelete={(p, recursive) =>
                      act(() => api.removeContainerPath(id, p, recursive), `Deleted ${p}.`, `${p} could not be deleted`)
                    }
                  />
                ) : (
                  <FileView
                    key={`${path}:${generation}`}
                    api={api}
                    id={id}
                    path={path}
                    entry={entry}
                    kind={kindOf.get(path)}
                    mayChange={mayChange}
                    act={act}
                    onDeleted={() => navigate(href(parentOf(path)))}
                  />
                )}
                {mayChange ? (
                  <UploadForm key={path} dir={entry?.type === 'directory' ? path : parentOf(path)} act={act} api={api} id={id} />
                ) : null}
                <h2>Changes</h2>
                <DiffList changes={changes} href={href} />
              </>
            );
          })()
        : null}
    </>
  );
}

function ContainerFacts({ container }: { container: Container }) {
  const facts: Fact[] = [
    ['ID', <code key="id">{container.id}</code>],
    [
      'Image',
      <>
        <Link href={`/image/${container.image.repository}@${container.image.manifestDigest}`}>{container.image.reference}</Link>{' '}
        <code title={container.image.manifestDigest}>{shortDigest(container.image.manifestDigest)}</code>
      </>,
    ],
    ['State', container.state === 'paused' ? `paused (by ${container.pausedBy.join(', ') || 'a commit'})` : 'running'],
    ['Owner', container.owner ?? '—'],
    ['Created', formatTime(container.createdAt)],
    ['Read-write layer', `${container.upperEntries} ${container.upperEntries === 1 ? 'entry' : 'entries'}`],
  ];
  return <Facts facts={facts} />;
}

type Act = (work: () => Promise<unknown>, done: string, failed: string) => Promise<void>;

function ContainerActions({ container, act, onRemoved, api }: { container: Container; act: Act; onRemoved: () => void; api: Api }) {
  const [confirming, setConfirming] = useState(false);
  const name = containerName(container);
  return (
    <div className="actions toolbar-actions">
      <Link className="button" href={commitHref([container.id])}>
        Commit
      </Link>
      {container.state === 'paused' ? (
        <Button
          className="button secondary"
          onPress={() => void act(() => api.unpauseContainer(container.id), `Unpaused ${name}.`, 'Unpause failed')}
        >
          Unpause
        </Button>
      ) : (
        <Button
          className="button secondary"
          onPress={() => void act(() => api.pauseContainer(container.id), `Paused ${name}.`, 'Pause failed')}
        >
          Pause
        </Button>
      )}
      {confirming ? (
        <span role="group" aria-label="Confirm removal" className="actions">
          <span>Remove {name} and its read-write layer?</span>
          <Button
            className="button danger"
            onPress={async () => {
              try {
                await api.removeContainer(container.id);
                onRemoved();
              } catch (e) {
                await act(() => Promise.reject(e), '', 'The container could not be removed');
              }
            }}
          >
            Yes, remove
          </Button>
          <Button className="button secondary" onPress={() => setConfirming(false)}>
            Keep it
          </Button>
        </span>
      ) : (
        <Button className="button secondary" onPress={() => setConfirming(true)}>
          Remove container
        </Button>
      )}
    </div>
  );
}

function Mark({ kind }: { kind: Change['kind'] | undefined }) {
  if (!kind) return <span className="hint">—</span>;
  return (
    <abbr className={`mark mark-${kind}`} title={KIND_NAMES[kind]}>
      {kind}
      <span className="visually-hidden"> ({KIND_NAMES[kind]})</span>
    </abbr>
  );
}

function DirectoryTable({
  path,
  entries,
  changes,
  kindOf,
  href,
  mayChange,
  onDelete,
}: {
  path: string;
  entries: Entry[];
  changes: Change[];
  kindOf: Map<string, Change['kind']>;
  href: (p: string) => string;
  mayChange: boolean;
  onDelete: (path: string, recursive: boolean) => void;
}) {
  const present = new Set(entries.map((e) => absolute(e.path)));
  // Deleted paths are gone from the merged view; the read-write layer keeps a whiteout for each.
  const whiteouts = changes.filter((c) => c.kind === 'D' && parentOf(c.path) === path && !present.has(c.path));
  const rows = [
    ...entries.map((e) => ({ path: absolute(e.path), entry: e as Entry | undefined })),
    ...whiteouts.map((c) => ({ path: c.path, entry: undefined })),
  ].sort((a, b) => a.path.localeCompare(b.path));
  if (!rows.length) return <p>This directory is empty.</p>;
  return (
    <DataTable
      caption={`Entries of ${path}, with the read-write layer’s changes`}
      columns={['Change', 'Name', 'Type', 'Size', 'Mode', mayChange && 'Action']}
    >
      {rows.map(({ path: p, entry: e }) => (
        <tr key={p} className={e ? undefined : 'whiteout'}>
          <td>
            <Mark kind={kindOf.get(p)} />
          </td>
          <td>
            {e ? <Link href={href(p)}>{baseName(p)}</Link> : <del>{baseName(p)}</del>}
            {e?.linkname ? ` → ${e.linkname}` : ''}
          </td>
          <td>{e ? e.type : 'whiteout'}</td>
          <td>{e?.type === 'file' ? formatBytes(e.size) : '—'}</td>
          <td>{e ? <code>{e.mode.toString(8).padStart(4, '0')}</code> : '—'}</td>
          {mayChange ? (
            <td>
              {e ? (
                <ActionButton
                  className="button secondary small"
                  label="Delete"
                  target={p}
                  onPress={() => onDelete(p, e.type === 'directory')}
                />
              ) : null}
            </td>
          ) : null}
        </tr>
      ))}
    </DataTable>
  );
}

function FileView({
  api,
  id,
  path,
  entry,
  kind,
  mayChange,
  act,
  onDeleted,
}: {
  api: Api;
  id: string;
  path: string;
  entry: Entry;
  kind: Change['kind'] | undefined;
  mayChange: boolean;
  act: Act;
  onDeleted: () => void;
}) {
  const small = entry.size <= EDITABLE_BYTES;
  const [text, setText] = useState<string | undefined>();
  const [failed, setFailed] = useState(false);
  useEffect(() => {
    if (entry.type !== 'file' || !small) return;
    api.readContainerFile(id, path).then(setText, () => setFailed(true));
  }, [api, id, path, entry.type, small]);
  const mode = entry.mode.toString(8).padStart(4, '0');
  // Bytes that are not UTF-8 text decode to U+FFFD; saving them back would change the file.
  const binary = text !== undefined && (text.includes('\u0000') || text.includes('\uFFFD'));
  const editable = text !== undefined && !binary;
  return (
    <section aria-label={`File ${path}`}>
      <p>
        A {entry.type} of {formatBytes(entry.size)}, mode <code>{mode}</code>
        {entry.linkname ? `, pointing to ${entry.linkname}` : ''}
        {kind ? `, ${KIND_NAMES[kind]} in the read-write layer` : ', from the image'}.
      </p>
      {entry.type === 'file' && !small ? <p className="hint">Only files up to {formatBytes(EDITABLE_BYTES)} are shown here.</p> : null}
      {binary ? <p className="hint">This file is not UTF-8 text, so it is not shown here.</p> : null}
      {failed ? (
        <p role="alert" className="error">
          The file could not be read.
        </p>
      ) : null}
      {entry.type === 'file' && small && text === undefined && !failed ? <p role="status">Loading…</p> : null}
      <Form
        className="form"
        onSubmit={(e) => {
          e.preventDefault();
          if (text === undefined) return;
          const owner = { mode, uid: entry.uid, gid: entry.gid };
          void act(() => api.writeContainerFile(id, path, text, owner), `Saved ${path}.`, `${path} could not be saved`);
        }}
      >
        {editable ? (
          <TextField value={text} onChange={setText} isReadOnly={!mayChange} className="react-aria-TextField editor">
            <Label>Content of {path}</Label>
            <TextArea rows={Math.min(24, Math.max(6, text.split('\n').length + 1))} spellCheck={false} />
          </TextField>
        ) : null}
        {mayChange ? (
          <div className="actions">
            {editable ? (
              <Button type="submit" className="button">
                Save
              </Button>
            ) : null}
            <ActionButton
              label="Delete"
              target={path}
              onPress={async () => {
                try {
                  await api.removeContainerPath(id, path);
                  onDeleted();
                } catch (e) {
                  await act(() => Promise.reject(e), '', `${path} could not be deleted`);
                }
              }}
            />
          </div>
        ) : null}
      </Form>
    </section>
  );
}

function UploadForm({ dir, act, api, id }: { dir: string; act: Act; api: Api; id: string }) {
  const [target, setTarget] = useState(dir === '/' ? '/' : `${dir}/`);
  const [file, setFile] = useState<File | undefined>();
  function submit(e: FormEvent<HTMLFormElement>) {
    e.preventDefault();
    if (!file) return;
    // A target ending in `/` is a directory: the file keeps its own name there.
    const path = target.endsWith('/') ? `${target}${file.name}` : target;
    void act(() => api.writeContainerFile(id, path, file, { mode: '0644' }), `Uploaded ${path}.`, `${path} could not be uploaded`);
  }
  return (
    <section aria-labelledby="upload-heading" className="panel">
      <h2 id="upload-heading">Upload a file</h2>
      <Form onSubmit={submit} className="form inline-form">
        <div className="field">
          <label htmlFor="upload-file">File to upload</label>
          <input id="upload-file" type="file" onChange={(e) => setFile(e.currentTarget.files?.[0])} />
        </div>
        <TextField value={target} onChange={setTarget} isRequired>
          <Label>Path in the container</Label>
          <Input />
        </TextField>
        <Button type="submit" className="button" isDisabled={!file || !target.startsWith('/')}>
          Upload
        </Button>
      </Form>
    </section>
  );
}

function DiffList({ changes, href }: { changes: Change[]; href: (p: string) => string }) {
  if (!changes.length) return <p>The read-write layer is empty: nothing to commit but the configuration.</p>;
  return (
    <DataTable caption="docker diff: the read-write layer’s changes" className="table diff" columns={['Change', 'Path']}>
      {changes.map((c) => (
        <tr key={c.path}>
          <td>
            <Mark kind={c.kind} />
          </td>
          <td>{c.kind === 'D' ? <code>{c.path}</code> : <Link href={href(c.path)}>{c.path}</Link>}</td>
        </tr>
      ))}
    </DataTable>
  );
}
